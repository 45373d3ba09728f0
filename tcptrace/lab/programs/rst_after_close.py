#!/usr/bin/env python3
"""Data sent to a peer that has closed its socket: answered with a RST.

    rst_after_close.py server [--host H] [--port P]
    rst_after_close.py client [--host H] [--port P]

The server accepts, reads the client's first message b"first\\n" and closes
its socket (FIN; it read everything, so Linux sends a FIN, not a RST). The
client's kernel ACKs the FIN; the client does not look at it, sleeps 0.3 s
and sends b"second\\n". The server side of the connection is now in
FIN_WAIT2 with no socket to deliver to, so its kernel answers the data with a
RST. The client then sees ECONNRESET (or EPIPE) on its next call and closes,
which sends nothing more.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="data after the peer closed -> RST")
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
            if conn.recv(100) != b"first\n":
                raise SystemExit("expected first")
        # Closed after reading everything: FIN. The kernel keeps the
        # connection (FIN_WAIT2) and resets it when more data arrives.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        sock.sendall(b"first\n")
        time.sleep(0.3)  # the server closes meanwhile
        sock.sendall(b"second\n")  # accepted by our kernel...
        time.sleep(0.2)  # ...and answered by the peer's RST
        try:
            sock.sendall(b"third\n")
            raise SystemExit("expected the connection to be reset")
        except (ConnectionResetError, BrokenPipeError) as exc:
            print(f"reset by the peer, as expected ({exc.strerror})", flush=True)
    # close() of a reset socket sends nothing.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
