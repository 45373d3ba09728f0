#!/usr/bin/env python3
"""A half-close: the client sends its FIN first, the server keeps sending.

    half_close.py server [--host H] [--port P]
    half_close.py client [--host H] [--port P]

The client connects, sends b"GET\\n" and calls shutdown(SHUT_WR): its FIN
goes out, but it can still receive. The server reads the request until end of
file (the FIN), then sends three chunks of 100 bytes, 0.1 s apart, waits
0.1 s and closes (its FIN). The client reads until end of file and closes,
which sends nothing more since its FIN is already out.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="half-closed connection")
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
            request = b""
            while chunk := conn.recv(100):  # until the client's FIN
                request += chunk
            if request != b"GET\n":
                raise SystemExit("expected GET")
            for i in range(3):  # still allowed to send
                conn.sendall(bytes([ord("a") + i]) * 100)
                time.sleep(0.1)
        # Closed here: our FIN, after the three chunks.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        sock.sendall(b"GET\n")
        sock.shutdown(socket.SHUT_WR)  # FIN now; reading goes on
        received = b""
        while chunk := sock.recv(1000):
            received += chunk
        print(f"received {len(received)} bytes after our FIN", flush=True)


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
