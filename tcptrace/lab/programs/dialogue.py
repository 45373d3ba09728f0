#!/usr/bin/env python3
"""The classic tutorial dialogue: welcome, name, greeting, exit.

    dialogue.py server [--host H] [--port P] [--count N] [--threaded]
    dialogue.py client [--host H] [--port P] [--name NAME] [--pause S]

The port defaults to 6000. On connect the server sends b"Welcome!\\n" and
b"What's your name?\\n" (two sendall() calls); the client reads until it
has the question and answers with a line, NAME + b"\\n" (default "Alice");
the server replies b"Hello, NAME!\\n"; the client sends b"exit\\n" and the
server, on reading it, closes first (its FIN). The client reads to end of
file and closes in turn. Both read line by line, so the protocol works
whatever the segmentation; how the lines travel on the wire is up to the
kernels (Nagle, delayed ACKs).

By default the server serves one connection and exits. With --count N it
serves N connections, one after the other; with --threaded as well, it
serves them concurrently, one thread per connection (the main thread keeps
accepting), and exits when all N are done. --pause S makes the client sleep
S seconds before each line it sends (its name, then exit), so that several
clients started a little apart have their dialogues interleaved on the wire.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import threading
import time


def parse_args():
    ap = argparse.ArgumentParser(description="line-based welcome/name/exit dialogue")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=6000, help="server port")
    ap.add_argument("--name", default="Alice", help="the name the client gives")
    ap.add_argument("--count", type=int, default=1, help="server: connections to serve before exiting")
    ap.add_argument("--threaded", action="store_true", help="server: serve the connections concurrently")
    ap.add_argument("--pause", type=float, default=0.0, help="client: seconds to wait before each line sent")
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


def serve_one(conn):
    with conn:
        lines = Lines(conn)
        conn.sendall(b"Welcome!\n")
        conn.sendall(b"What's your name?\n")
        name = lines.readline().strip()
        conn.sendall(b"Hello, " + name + b"!\n")
        if lines.readline() != b"exit\n":
            raise SystemExit("expected exit")
    # Closed here, right after "exit": our FIN goes first.


def serve_in_thread(conn, failures):
    # A SystemExit raised in a thread would end only that thread, silently:
    # keep its message for the main thread.
    try:
        serve_one(conn)
    except (SystemExit, OSError) as exc:
        failures.append(str(exc))


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(max(1, args.count))
        threads, failures = [], []
        for _ in range(args.count):
            conn, _ = srv.accept()
            if not args.threaded:
                serve_one(conn)
                continue
            thread = threading.Thread(target=serve_in_thread, args=(conn, failures))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
    if failures:
        raise SystemExit("; ".join(failures))


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        lines = Lines(sock)
        if lines.readline() != b"Welcome!\n":
            raise SystemExit("expected Welcome!")
        if lines.readline() != b"What's your name?\n":
            raise SystemExit("expected the question")
        if args.pause:
            time.sleep(args.pause)
        sock.sendall(args.name.encode() + b"\n")
        greeting = lines.readline()
        if greeting != b"Hello, " + args.name.encode() + b"!\n":
            raise SystemExit(f"unexpected greeting {greeting!r}")
        if args.pause:
            time.sleep(args.pause)
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
