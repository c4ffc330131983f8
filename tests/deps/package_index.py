#!/usr/bin/env python3
"""A local PEP 503 package index for warden's dependency tests: no internet.

Builds small wheels into a folder and serves them over HTTP and HTTPS on
loopback, beside a second, "forbidden" server with the same packages, a TCP
listener and a UDP listener on every address (to see whether anything from a
sandbox reaches the host). Every connection and request is appended to
<folder>/log as one line: "<server> <event> <detail>".

    package_index.py FOLDER

prints one JSON line once everything listens:
    {"index_http": port, "index_https": port, "forbidden_http": port,
     "forbidden_https": port, "tcp": port, "udp": port, "ca": path,
     "host_address": the machine's non-loopback address or ""}
and serves until stdin closes or it is killed.
"""
import base64
import hashlib
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import zipfile

# name -> (version, files {path: text}, requires)
PACKAGES = {
    "wardendemo": ("1.0", {"wardendemo/__init__.py":
                           "import wardendep\n\ndef greet():\n"
                           "    return 'hello from wardendemo %d' % wardendep.VALUE\n"},
                   ["wardendep>=2"]),
    "wardendep": ("2.0", {"wardendep/__init__.py": "VALUE = 42\n"}, []),
    "wardenextra": ("1.0", {"wardenextra/__init__.py": "X = 1\n"}, []),
    # Allowed itself, but it needs wardenextra, which the tests do not allow.
    "wardenpulls": ("1.0", {"wardenpulls/__init__.py": "import wardenextra\n"}, ["wardenextra"]),
    # A .pth file and a sitecustomize.py: code Python runs by itself at start-up.
    # Its index page sends pip to the forbidden server for the file.
    "wardenfar": ("1.0", {"wardenfar/__init__.py": ""}, []),
    "wardenhook": ("1.0", {"wardenhook/__init__.py": "",
                           "wardenhook.pth": "import os; os.environ['HOOKED'] = '1'\n",
                           "sitecustomize.py": "print('hooked')\n"}, []),
}

LOCK = threading.Lock()
LOG = None
FORBIDDEN_HTTPS = 0  # the forbidden server's HTTPS port, once it listens


def log(server, event, detail=""):
    with LOCK:
        with open(LOG, "a") as f:
            f.write("%s %s %s\n" % (server, event, detail))


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder, name, version, files, requires):
    dist = "%s-%s.dist-info" % (name, version)
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    metadata += "".join("Requires-Dist: %s\n" % r for r in requires)
    contents = dict((p, t.encode()) for p, t in files.items())
    contents[dist + "/METADATA"] = metadata.encode()
    contents[dist + "/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: warden-tests\n"
                                 b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = "".join("%s,%s,%d\n" % (p, record_hash(d), len(d)) for p, d in contents.items())
    record += dist + "/RECORD,,\n"
    contents[dist + "/RECORD"] = record.encode()
    path = os.path.join(folder, "%s-%s-py3-none-any.whl" % (name, version))
    with zipfile.ZipFile(path, "w") as z:
        for p, d in contents.items():
            z.writestr(p, d)
    return path


def make_certificates(folder):
    """A CA and one server certificate for index.test and forbidden.test."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=folder)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=warden test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=index.test",
        "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(folder, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:index.test,DNS:forbidden.test\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.pem")
    return os.path.join(folder, "ca.pem")


def host_address():
    """The machine's address on its outbound interface, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent
            address = s.getsockname()[0]
            return "" if address.startswith("127.") else address
    except OSError:
        return ""


def serve_index(name, wheels, tls_context):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            log(name, "get", self.path)
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if parts == ["simple"]:
                body = "".join('<a href="/simple/%s/">%s</a>\n' % (n, n) for n in sorted(wheels))
            elif len(parts) == 2 and parts[0] == "simple" and parts[1] in wheels:
                path = wheels[parts[1]]
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                base = os.path.basename(path)
                where = "/files/" + base
                if parts[1] == "wardenfar":
                    where = "https://forbidden.test:%d/files/%s" % (FORBIDDEN_HTTPS, base)
                body = '<a href="%s#sha256=%s">%s</a>\n' % (where, digest, base)
            elif len(parts) == 2 and parts[0] == "files":
                match = [p for p in wheels.values() if os.path.basename(p) == parts[1]]
                if not match:
                    self.send_error(404)
                    return
                with open(match[0], "rb") as f:
                    data = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            else:
                self.send_error(404)
                return
            data = ("<!DOCTYPE html><html><body>\n%s</body></html>\n" % body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def verify_request(self, request, client_address):
            log(name, "connect", client_address[0])
            return True

    server = Server(("127.0.0.1", 0), Handler)
    if tls_context:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def listen_tcp():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))
    listener.listen(16)

    def accept():
        while True:
            conn, peer = listener.accept()
            log("tcp", "connect", peer[0])
            conn.close()
    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1]


def listen_udp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))

    def receive():
        while True:
            data, peer = sock.recvfrom(4096)
            log("udp", "datagram", "%s %d" % (peer[0], len(data)))
    threading.Thread(target=receive, daemon=True).start()
    return sock.getsockname()[1]


def main():
    global LOG, FORBIDDEN_HTTPS
    folder = os.path.abspath(sys.argv[1])
    os.makedirs(folder, exist_ok=True)
    LOG = os.path.join(folder, "log")
    open(LOG, "w").close()
    wheels = {}
    for name, (version, files, requires) in PACKAGES.items():
        wheels[name] = build_wheel(folder, name, version, files, requires)
    ca = make_certificates(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(folder, "server.pem"), os.path.join(folder, "server.key"))
    FORBIDDEN_HTTPS = serve_index("forbidden", wheels, context)
    ports = {
        "index_http": serve_index("index", wheels, None),
        "index_https": serve_index("index", wheels, context),
        "forbidden_http": serve_index("forbidden", wheels, None),
        "forbidden_https": FORBIDDEN_HTTPS,
        "tcp": listen_tcp(),
        "udp": listen_udp(),
        "ca": ca,
        "host_address": host_address(),
    }
    print(json.dumps(ports), flush=True)
    sys.stdin.read()  # until the test closes it or goes away


if __name__ == "__main__":
    main()
