#!/usr/bin/env python3
"""Two send() calls that travel in one segment, thanks to TCP_CORK.

    coalesced.py server [--host H] [--port P]
    coalesced.py client [--host H] [--port P]

The client connects, sets TCP_CORK, sends b"hello " and b"world!" with two
send() calls, then clears TCP_CORK: while corked, Linux holds partial
segments back, and uncorking pushes what is queued as ONE segment carrying
b"hello world!" (12 bytes). The server reads it with a single recv() and
echoes back exactly what that recv() returned, with a single send(). The
client reads the echo and closes first; the server closes in turn.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket

MESSAGE = b"hello world!"


def parse_args():
    ap = argparse.ArgumentParser(description="two sends coalesced into one segment")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with conn:
            data = conn.recv(100)  # one recv(): whatever the first segment held
            conn.sendall(data)  # echoed as received
            if data != MESSAGE:
                raise SystemExit(f"expected {MESSAGE!r} in one recv(), got {data!r}")
            while conn.recv(100):  # until the client closes
                pass
        # Closed here: our FIN answers the client's.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        sock.send(b"hello ")  # held back: the socket is corked
        sock.send(b"world!")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)  # one segment now
        echo = b""
        while len(echo) < len(MESSAGE):
            chunk = sock.recv(100)
            if not chunk:
                break
            echo += chunk
        if echo != MESSAGE:
            raise SystemExit(f"expected the echo {MESSAGE!r}, got {echo!r}")
        print(f"echo {echo!r}", flush=True)
    # Closed here: our FIN goes first.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
