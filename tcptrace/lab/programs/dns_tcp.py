#!/usr/bin/env python3
"""DNS over TCP: two queries pipelined on one connection (RFC 7766), answered by a tiny server.

    dns_tcp.py server [--host H] [--port P]
    dns_tcp.py client [--host H] [--port P] [--name NAME]

Every DNS message over TCP is a 2-byte big-endian length, then the message
(RFC 1035 §4.2.2). The client builds two queries for NAME (default
www.example.test), type A (id 0x1001) and type AAAA (id 0x1002), and sends
them together in ONE send() (pipelining, RFC 7766 §6.2.1.1), then reads two
answers and closes first. The server reads messages by their length prefix
and answers each: A with 10.99.0.1 (TTL 60), AAAA with no answer (NOERROR,
0 records); it closes when the client has closed.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6). Standard library only.
"""

import argparse
import socket
import struct

TYPES = {"A": 1, "AAAA": 28}


def parse_args():
    ap = argparse.ArgumentParser(description="DNS over TCP, two pipelined queries")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=53, help="server port")
    ap.add_argument("--name", default="www.example.test", help="client: the name to look up")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def qname(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def query(qid, name, qtype):
    # header: id, flags (RD), QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0; then the question
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname(name) + struct.pack("!HH", qtype, 1)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def recv_message(sock):
    head = recv_exactly(sock, 2)
    return None if head is None else recv_exactly(sock, struct.unpack("!H", head)[0])


def answer(msg):
    qid, flags = struct.unpack_from("!HH", msg)
    end = msg.index(b"\x00", 12) + 1
    question = msg[12 : end + 4]
    qtype = struct.unpack_from("!H", msg, end)[0]
    records = b""
    if qtype == TYPES["A"]:
        # name as a pointer to the question (0xc00c), type A, class IN, TTL 60, 4-byte address
        records = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton("10.99.0.1")
    count = 1 if records else 0
    head = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100), 1, count, 0, 0)  # QR, AA off, RD, RA
    return head + question + records


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with conn:
            while (msg := recv_message(conn)) is not None:
                reply = answer(msg)
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        # Closed here: our FIN answers the client's.


def client(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        queries = [query(0x1001, args.name, TYPES["A"]), query(0x1002, args.name, TYPES["AAAA"])]
        sock.sendall(b"".join(struct.pack("!H", len(q)) + q for q in queries))  # both in one send()
        for _ in queries:
            reply = recv_message(sock)
            if reply is None:
                raise SystemExit("connection closed before both answers")
            print(f"answer id {struct.unpack_from('!H', reply)[0]:#06x}, {len(reply)} bytes", flush=True)
    # Closed here, first.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
