import json
json.loads(data)
