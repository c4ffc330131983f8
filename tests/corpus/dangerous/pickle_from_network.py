import pickle
import socket

s = socket.socket()
s.connect(("198.51.100.7", 7000))
data = s.recv(65536)
obj = pickle.loads(data)
print(obj)
