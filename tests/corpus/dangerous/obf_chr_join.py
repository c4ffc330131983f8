name = "".join(map(chr, [111, 115]))
func = "".join(chr(c) for c in [115, 121, 115, 116, 101, 109])
getattr(__import__(name), func)("id")
