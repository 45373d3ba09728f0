#!/usr/bin/env python3
"""Nagle's algorithm (RFC 896) on the wire: small writes held back.

    nagle.py server [--host H] [--port P]
    nagle.py client [--host H] [--port P] [--count N] [--interval S] [--nodelay]

The client connects, waits 0.2 s (so that the server has accepted the
connection and set its socket up), then writes N messages (default 10),
b"msg 000\\n" to b"msg 009\\n" (8 bytes each), with one send() each and S
seconds (default 0.003) between them. It waits 0.3 s and closes first; the
server reads to end of file and closes in turn. The server never writes.

TCP_NODELAY is off by default (Nagle on): the first message leaves at once,
alone; while it is unacknowledged, the following small writes wait in the
send buffer, and they leave together, as ONE segment, as soon as the ACK of
the first arrives. The server clears TCP_QUICKACK on the accepted socket
before any data arrives, so that its ACK of that first segment is a delayed
ACK (about 40 ms on Linux) rather than an immediate one (a fresh Linux
connection starts in "quick ACK" mode and would ACK it within microseconds,
before the second write, and Nagle would then have nothing to hold back).
With --nodelay the client sets TCP_NODELAY: every write leaves at once as a
segment of its own, whatever is unacknowledged.

The 0.3 s wait before close() matters: close() sends whatever is still
queued at once, Nagle or not, with the FIN.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="small writes and Nagle's algorithm")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--count", type=int, default=10, help="client: number of 8-byte messages")
    ap.add_argument("--interval", type=float, default=0.003, help="client: seconds between messages")
    ap.add_argument("--nodelay", action="store_true", help="client: set TCP_NODELAY (Nagle off)")
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
            # Delayed ACKs from the first data segment on (Linux: "pingpong"
            # mode instead of the quick-ACK mode of a new connection).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
            received = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                received += chunk
        print(f"received {len(received)} bytes: {received.decode()!r}", flush=True)
        # Closed here, after the client's FIN.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        if args.nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.connect((args.host, args.port))
        time.sleep(0.2)  # the server has accepted and cleared TCP_QUICKACK
        for i in range(args.count):
            if i:
                time.sleep(args.interval)
            sock.send(b"msg %03d\n" % i)
        time.sleep(0.3)  # everything sent before the FIN
        print(f"sent {args.count} messages", flush=True)
    # Closed here: our FIN goes first.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
