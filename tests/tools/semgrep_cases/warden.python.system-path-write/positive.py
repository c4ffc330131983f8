open("/etc/hosts", "a").write("1.2.3.4 evil\n")
