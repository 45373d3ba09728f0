#!/usr/bin/env python3
"""A slow echo client: one short line at a time, a pause after each.

    slow_client.py [--host H] [--port P] [--lines N] [--interval S]

Connects to the echo server (echo_server.py) at H:P, then N times (default
10) sends b"line I\\n" with one send(), reads its echo and sleeps S seconds
(default 0.2): a long, slow exchange that a capture can join in the middle
(midstream.pcap). It prints "line I echoed" as soon as each echo is in, so
that a script can start a capture at a known point of the exchange. Then it
closes first; the echo server closes in turn.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def main():
    ap = argparse.ArgumentParser(description="slow line-by-line echo client")
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--lines", type=int, default=10, help="lines to send")
    ap.add_argument("--interval", type=float, default=0.2, help="seconds after each echo")
    args = ap.parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        for i in range(1, args.lines + 1):
            line = f"line {i}\n".encode()
            if sock.send(line) != len(line):
                raise SystemExit("short send")
            echo = b""
            while len(echo) < len(line):
                chunk = sock.recv(100)
                if not chunk:
                    raise SystemExit("server closed early")
                echo += chunk
            if echo != line:
                raise SystemExit(f"echo {echo!r} differs from {line!r}")
            print(f"line {i} echoed", flush=True)
            time.sleep(args.interval)
    # Closed here, first: the echo server closes when it reads end of file.


if __name__ == "__main__":
    main()
