import os
print(os.getuid())
