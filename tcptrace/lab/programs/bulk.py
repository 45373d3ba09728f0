#!/usr/bin/env python3
"""A bulk transfer from the server to the client.

    bulk.py server [--host H] [--port P] [--size N] [--congestion ALGO]
    bulk.py client [--host H] [--port P] [--rcvbuf B]

The server accepts one connection, sends N bytes (default 600000) as fast as
it can, and closes. The client reads until end of file and closes. record.sh
makes the path lossy (lossy_bulk.pcap) with an iptables rule in the client's
namespace, so the capture shows retransmissions, duplicate ACKs with SACK
blocks and fast retransmissions.

--congestion picks the sender's congestion control algorithm for this
connection (TCP_CONGESTION, e.g. "cubic", Linux's usual default; one not in
net.ipv4.tcp_allowed_congestion_control needs CAP_NET_ADMIN, i.e. root).

--rcvbuf B sets the client's SO_RCVBUF before connecting. That turns off
receive buffer autotuning, so the client's advertised window stays the same
while a segment is missing: its duplicate ACKs then really are duplicates
(with autotuning the window grows from one of them to the next, and tshark
calls them window updates instead).

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket


def parse_args():
    ap = argparse.ArgumentParser(description="bulk transfer, server to client")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--size", type=int, default=600000, help="bytes the server sends")
    ap.add_argument("--rcvbuf", type=int, default=0, help="client SO_RCVBUF (default: the kernel's, autotuned)")
    ap.add_argument("--congestion", default="", help="server's congestion control (default: the system's)")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def server(args):
    data = bytes(i % 251 for i in range(args.size))  # a recognisable pattern
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with conn:
            if args.congestion:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, args.congestion.encode())
            conn.sendall(data)
        # Closed: the FIN follows the data (the kernel still delivers and
        # retransmits what is queued after close()).


def client(args):
    received = 0
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        if args.rcvbuf:
            # Before connect(): the window scale is chosen from it.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
        sock.connect((args.host, args.port))
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
    print(f"received {received} bytes", flush=True)


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
