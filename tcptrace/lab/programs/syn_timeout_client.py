#!/usr/bin/env python3
"""Connect to a host that never answers, to record SYN retransmissions.

    syn_timeout_client.py [--host HOST] [--port PORT] [--timeout S]

Connects to HOST:PORT (IPv4 or IPv6 address; default 10.99.0.1:20002) with a
socket timeout of S seconds (default 7.5). The server's host silently drops
the SYN (an iptables DROP rule set up by record.sh), so the client's kernel
retransmits it with Linux's default exponential back-off: 1 s, then 2 s,
then 4 s later (at about 1, 3 and 7 s). After S seconds connect() gives up
with a timeout, which is the expected outcome: exit 0 then, 1 if the
connection unexpectedly succeeds or fails otherwise. Closing a socket still
in SYN-SENT sends nothing (no RST).
"""

import argparse
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description="connect to a host that drops SYNs")
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20002, help="a port whose SYNs are dropped")
    ap.add_argument("--timeout", type=float, default=7.5, help="seconds before connect() gives up")
    args = ap.parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(args.timeout)
        try:
            sock.connect((args.host, args.port))
        except TimeoutError:
            print(f"connect() timed out after {args.timeout} s, as expected", flush=True)
            return 0
        except OSError as exc:
            print(f"unexpected: connect() failed with {exc}", file=sys.stderr)
            return 1
    print("unexpected: the connection succeeded", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
