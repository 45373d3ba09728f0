#!/usr/bin/env python3
"""The classic tutorial dialogue: welcome, name, greeting, exit.

    dialogue.py server [--host H] [--port P] [--name NAME]
    dialogue.py client [--host H] [--port P] [--name NAME]

The port defaults to 6000. On connect the server sends b"Welcome!\\n" and
b"What's your name?\\n" (two sendall() calls); the client reads until it
has the question and answers with a line, NAME + b"\\n" (default "Alice");
the server replies b"Hello, NAME!\\n"; the client sends b"exit\\n" and the
server, on reading it, closes first (its FIN). The client reads to end of
file and closes in turn. Both read line by line, so the protocol works
whatever the segmentation; how the lines travel on the wire is up to the
kernels (Nagle, delayed ACKs).

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket


def parse_args():
    ap = argparse.ArgumentParser(description="line-based welcome/name/exit dialogue")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=6000, help="server port")
    ap.add_argument("--name", default="Alice", help="the name the client gives")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Lines:
    """Read b"\\n"-terminated lines from a socket, whatever the segmentation."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(100)
            if not chunk:
                raise SystemExit(f"connection closed mid-line (have {self.buf!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with conn:
            lines = Lines(conn)
            conn.sendall(b"Welcome!\n")
            conn.sendall(b"What's your name?\n")
            name = lines.readline().strip()
            conn.sendall(b"Hello, " + name + b"!\n")
            if lines.readline() != b"exit\n":
                raise SystemExit("expected exit")
        # Closed here, right after "exit": our FIN goes first.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        lines = Lines(sock)
        if lines.readline() != b"Welcome!\n":
            raise SystemExit("expected Welcome!")
        if lines.readline() != b"What's your name?\n":
            raise SystemExit("expected the question")
        sock.sendall(args.name.encode() + b"\n")
        greeting = lines.readline()
        if greeting != b"Hello, " + args.name.encode() + b"!\n":
            raise SystemExit(f"unexpected greeting {greeting!r}")
        sock.sendall(b"exit\n")
        if sock.recv(100) != b"":  # the server's FIN
            raise SystemExit("expected end of file after exit")
        print(f"greeted: {greeting!r}", flush=True)
    # Closed here, after the server's FIN.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
