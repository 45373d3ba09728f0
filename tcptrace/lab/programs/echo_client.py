#!/usr/bin/env python3
"""TCP echo client used to record the sample captures.

    echo_client.py [--host HOST] [--port PORT] [--size N] [--source-port P]
                   [--wait-eof]

Connects to HOST:PORT (IPv4 or IPv6 address; default 10.99.0.1:20000), sends
b"AB" (or, with --size N, N bytes of a repeating printable pattern), reads
until the same number of bytes came back, and closes.

--source-port P binds the client to a fixed local port first (with
SO_REUSEADDR), so two runs make two connections with the same four-tuple.
--wait-eof waits for the server to close first (recv() returns b"") before
closing, so the client never ends up in TIME_WAIT: the next run can reuse the
same source port at once.
"""

import argparse
import socket
import string


def parse_args():
    ap = argparse.ArgumentParser(description="TCP echo client")
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--size", type=int, default=0, help='send N bytes of a pattern instead of b"AB"')
    ap.add_argument("--source-port", type=int, default=0, help="bind this local port before connecting")
    ap.add_argument("--wait-eof", action="store_true", help="wait for the server to close first")
    return ap.parse_args()


def payload(size):
    if size <= 0:
        return b"AB"
    pattern = (string.ascii_letters + string.digits).encode()
    return (pattern * (size // len(pattern) + 1))[:size]


def main():
    args = parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    data = payload(args.size)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if args.source_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", args.source_port))
        sock.connect((args.host, args.port))
        sock.sendall(data)
        received = b""
        while len(received) < len(data):
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("server closed before echoing everything")
            received += chunk
        if received != data:
            raise SystemExit("echo differs from what was sent")
        if args.wait_eof:
            while sock.recv(65536):
                pass
        print(f"echoed {len(received)} bytes", flush=True)
    # Leaving the with-block closes the socket: our FIN (or, with --wait-eof,
    # our answer to the server's FIN).


if __name__ == "__main__":
    main()
