#!/usr/bin/env python3
"""An application abort: close() with SO_LINGER {on, 0 s} sends a RST.

    abort_rst.py server [--host H] [--port P]
    abort_rst.py client [--host H] [--port P]

The client connects, sends b"hello\\n", reads the server's b"hi\\n", waits a
little (so its ACK of the reply goes out on its own), then sets SO_LINGER with
l_onoff=1, l_linger=0 and closes. Linux then drops the connection at once and
sends a RST (not a FIN) from the ESTABLISHED state. The server, blocked in
recv(), gets ECONNRESET; it sends nothing more.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import struct
import time


def parse_args():
    ap = argparse.ArgumentParser(description="abort a connection with RST")
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
            if conn.recv(100) != b"hello\n":
                raise SystemExit("expected hello")
            conn.sendall(b"hi\n")
            try:
                conn.recv(100)
                raise SystemExit("expected a reset, got a clean close or data")
            except ConnectionResetError:
                print("connection reset by the client, as expected", flush=True)
        # The connection is already gone: this close() sends nothing.


def client(args):
    sock = socket.socket(family_of(args.host), socket.SOCK_STREAM)
    sock.connect((args.host, args.port))
    sock.sendall(b"hello\n")
    if sock.recv(100) != b"hi\n":
        raise SystemExit("expected hi")
    time.sleep(0.2)
    # struct linger {int l_onoff; int l_linger;}: on, 0 seconds = abort.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST instead of FIN
    print("aborted", flush=True)


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
