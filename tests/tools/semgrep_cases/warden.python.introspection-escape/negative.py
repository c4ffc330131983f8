print(type(object()).__name__)
