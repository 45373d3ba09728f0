#!/usr/bin/env python3
"""Connect to a port nobody listens on, to record a refused connection.

    refused_client.py [--host HOST] [--port PORT]

Connects to HOST:PORT (IPv4 or IPv6 address; default 10.99.0.1:20001). The
server's kernel answers the SYN with RST/ACK and connect() fails with
ECONNREFUSED, which is the expected outcome: exit 0 then, 1 if the connection
unexpectedly succeeds.
"""

import argparse
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description="connect to a closed port")
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20001, help="a port with no listener")
    args = ap.parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)  # never hang the recording if something is wrong
        try:
            sock.connect((args.host, args.port))
        except ConnectionRefusedError:
            print("connection refused, as expected", flush=True)
            return 0
    print("unexpected: the connection succeeded", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
