#!/usr/bin/env python3
"""Length-prefixed framing: a 4-byte big-endian length, then the body.

    framing.py server [--host H] [--port P]
    framing.py client [--host H] [--port P] [--size N]

Every message, in both directions, is a 4-byte big-endian length followed by
that many bytes. The client sends one command, b"GET N" (default N = 20000),
header and command in a single send(). The server answers with a body of N
bytes of a printable pattern, in two send() calls: first the 4-byte header
alone, then the whole body, so the capture shows the header in its own small
segment and the body cut into MSS-sized segments. The client reads exactly 4
bytes, then exactly the length they give, checks the body and closes first;
the server closes in turn.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import string
import struct

HEADER = struct.Struct("!I")  # 4 bytes, network (big-endian) byte order


def parse_args():
    ap = argparse.ArgumentParser(description="length-prefixed command/response")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--size", type=int, default=20000, help="client: body size to ask for")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def recv_exactly(sock, n):
    """Read exactly n bytes, whatever the segmentation."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 65536))
        if not chunk:
            raise SystemExit(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def recv_message(sock):
    (length,) = HEADER.unpack(recv_exactly(sock, HEADER.size))
    return recv_exactly(sock, length)


def body_of(size):
    pattern = (string.ascii_letters + string.digits).encode()
    return (pattern * (size // len(pattern) + 1))[:size]


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with conn:
            verb, _, size = recv_message(conn).partition(b" ")
            if verb != b"GET":
                raise SystemExit(f"unknown command {verb!r}")
            body = body_of(int(size))
            conn.sendall(HEADER.pack(len(body)))  # the header: its own send()
            conn.sendall(body)  # the body: a second send()
            while conn.recv(65536):  # until the client closes
                pass
        # Closed here: our FIN answers the client's.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        command = b"GET %d" % args.size
        sock.sendall(HEADER.pack(len(command)) + command)  # one send()
        body = recv_message(sock)
        if body != body_of(args.size):
            raise SystemExit("body differs from what was asked for")
        print(f"received a {len(body)}-byte body", flush=True)
    # Closed here, first.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
