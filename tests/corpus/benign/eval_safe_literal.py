import ast

user_text = "[1, 2, {'a': 3}]"
value = ast.literal_eval(user_text)
print(type(value).__name__, value)
tree = ast.parse("x = 1 + 2")
print(ast.dump(tree.body[0]))
