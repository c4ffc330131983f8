import tempfile
f = tempfile.NamedTemporaryFile()
