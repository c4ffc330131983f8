import os
getattr(os, input())("id")
getattr(os, "system")("id")
