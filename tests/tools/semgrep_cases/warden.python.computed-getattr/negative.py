import os
print(getattr(os, "sep"))
