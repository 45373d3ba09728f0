#!/usr/bin/env python3
"""A message that gets through only after several retransmissions.

    data_backoff.py server [--host H] [--port P]
    data_backoff.py client [--host H] [--port P] [--size N] [--pause S]

The client sends b"hello\\n", the server answers b"hi\\n"; S seconds later
(default 0.3) the client sends an N-byte message (default 100, a printable
pattern) and waits for the server's b"ok\\n"; it then waits 0.2 s and
closes first; the server reads end of file and closes at once.

The programs themselves do nothing unusual: record.sh makes the server's
host drop the first copies of the N-byte segment (and of the client's FIN)
when they arrive, so the client's kernel retransmits them, doubling its
retransmission timeout each time, until a copy gets through. Both sockets
have a 20 s timeout, ample for that (record.sh lets the sixth copy in, about
3.35 s after the first).
close() returns at once; the client then sleeps 1.5 s so that the capture is
still running while its FIN is retransmitted (the kernel finishes the close
whether the program is alive or not).

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="a message retransmitted with exponential back-off")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--size", type=int, default=100, help="client: bytes of the message")
    ap.add_argument("--pause", type=float, default=0.3, help="client: seconds between hi and the message")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit(f"end of file after {len(data)} of {n} bytes")
        data += chunk
    return data


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(20)
            if recv_exactly(conn, 6) != b"hello\n":
                raise SystemExit("expected hello")
            conn.sendall(b"hi\n")
            message = b""
            while not message.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    raise SystemExit("end of file before the message")
                message += chunk
            conn.sendall(b"ok\n")
            if conn.recv(100) != b"":
                raise SystemExit("expected end of file")
        # Closed right after reading the client's FIN.
        print(f"got a {len(message)}-byte message", flush=True)


def client(args):
    sock = socket.socket(family_of(args.host), socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect((args.host, args.port))
    sock.sendall(b"hello\n")
    if recv_exactly(sock, 3) != b"hi\n":
        raise SystemExit("expected hi")
    time.sleep(args.pause)
    pattern = b"abcdefghijklmnopqrstuvwxyz0123456789"
    message = (pattern * (args.size // len(pattern) + 1))[: args.size - 1] + b"\n"
    start = time.monotonic()
    sock.sendall(message)
    if recv_exactly(sock, 3) != b"ok\n":
        raise SystemExit("expected ok")
    print(f"ok after {time.monotonic() - start:.3f} s", flush=True)
    time.sleep(0.2)
    sock.close()  # FIN (retransmitted until the server's host lets it in)
    time.sleep(1.5)


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
