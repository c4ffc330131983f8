m = __import__("so"[::-1])
getattr(m, "metsys"[::-1])("uname -a")
