import string


def strength(password: str) -> str:
    checks = [
        len(password) >= 12,
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c in string.digits for c in password),
        any(c in string.punctuation for c in password),
    ]
    score = sum(checks)
    return ["very weak", "weak", "fair", "good", "strong", "excellent"][score]


for pw in ["abc", "Tr0ub4dor&3", "correct horse battery staple"]:
    print(pw, "->", strength(pw))
