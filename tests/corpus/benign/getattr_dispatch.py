class Calculator:
    def do_add(self, a, b):
        return a + b

    def do_mul(self, a, b):
        return a * b

    def run(self, command, a, b):
        handler = getattr(self, "do_" + command, None)
        if handler is None:
            raise ValueError(f"unknown command {command}")
        return handler(a, b)


calc = Calculator()
print(calc.run("add", 2, 3), calc.run("mul", 4, 5))
