#!/bin/sh
# in a fresh network namespace: one ephemeral port, a listener on 5555 and one connection holding that port; then "$@"
ip link set lo up; sysctl -qw net.ipv4.ip_local_port_range="40000 40000"
python3 -c 'import socket,time;s=socket.socket();s.bind(("127.0.0.1",5555));s.listen();c=socket.create_connection(("127.0.0.1",5555));time.sleep(30)' & h=$!
sleep 0.5; "$@"; kill $h
