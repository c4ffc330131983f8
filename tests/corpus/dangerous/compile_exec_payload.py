import base64

src = base64.b64decode("cHJpbnQoJ293bmVkJyk=").decode()
code = compile(src, "<payload>", "exec")
exec(code)
