def shift(text, key):
    out = []
    for ch in text:
        if ch.isalpha():
            base = ord("A") if ch.isupper() else ord("a")
            out.append(chr((ord(ch) - base + key) % 26 + base))
        else:
            out.append(ch)
    return "".join(out)


secret = shift("Attack at dawn", 3)
print(secret, "->", shift(secret, -3))
