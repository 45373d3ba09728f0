#!/usr/bin/env python3
"""An idle connection kept alive by TCP keep-alive probes.

    keepalive.py server [--host H] [--port P]
    keepalive.py client [--host H] [--port P] [--idle S]

The client turns on keep-alive with Linux's shortest settings: SO_KEEPALIVE,
TCP_KEEPIDLE=1 (first probe after 1 s without traffic), TCP_KEEPINTVL=1 and
TCP_KEEPCNT=3 (used only if probes go unanswered). It connects and stays
silent for S seconds (default 3.5): its kernel sends a keep-alive about every
second, each a segment with no data and sequence number snd_una - 1, which
the server's kernel answers with a duplicate ACK. Then the client sends
b"ping\\n", the server answers b"pong\\n", the client closes first and the
server closes in turn.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="idle connection with TCP keep-alive")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--idle", type=float, default=3.5, help="seconds the client stays silent")
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
            if conn.recv(100) != b"ping\n":
                raise SystemExit("expected ping")
            conn.sendall(b"pong\n")
            while conn.recv(100):  # until the client closes
                pass
        # Closed here: our FIN answers the client's.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        # Linux socket options; the values are in seconds / probes.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        sock.connect((args.host, args.port))
        time.sleep(args.idle)  # idle: only keep-alives on the wire
        sock.sendall(b"ping\n")
        if sock.recv(100) != b"pong\n":
            raise SystemExit("expected pong")
        print("ping/pong after the idle period", flush=True)
    # Closed here: our FIN goes first.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
