# Holds a kernel-chosen port on :: (IPV6_V6ONLY=0, so IPv4 and IPv6) and prints it.
# usage: python3 hold.py tcp|udp
import socket, sys, time
t = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET6, t)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 0))
if t == socket.SOCK_STREAM:
    s.listen(5)
print(s.getsockname()[1], flush=True)
time.sleep(120)
