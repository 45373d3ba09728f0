#!/usr/bin/env python3
"""The server closes first; the client's FIN is re-sent into TIME_WAIT.

    fin_lost.py server [--host H] [--port P] [--delay S]
    fin_lost.py client [--host H] [--port P] [--delay S]

The client sends b"hello\\n", the server answers b"hi\\n", waits S seconds
(default 0.2, so that the client's ACK of "hi" goes out on its own) and
closes first (FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT). The client reads "hi" and
end of file, waits S seconds in CLOSE_WAIT (default 0.2; its kernel ACKs the
FIN meanwhile) and closes (LAST_ACK).

The programs themselves do nothing unusual: record.sh drops the server's
last ACK when it arrives in the client's namespace (an iptables rule
inserted while the client waits in CLOSE_WAIT, with a quota of one
segment), so the client's kernel, still in LAST_ACK, retransmits its FIN
after its retransmission timeout and the server, in TIME_WAIT, ACKs it
again. close() returns at once; the client then sleeps 1 s so that the
capture is still running while this happens (the kernel finishes the close
whether the program is alive or not).

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="server closes first, the client's FIN is retransmitted")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--delay", type=float, default=0.2, help="seconds before each side's close")
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
            time.sleep(args.delay)
        # Closed first: FIN. The kernel then keeps the connection in
        # FIN_WAIT_2 and TIME_WAIT, and answers the client's FINs there.


def client(args):
    sock = socket.socket(family_of(args.host), socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect((args.host, args.port))
    sock.sendall(b"hello\n")
    reply = b""
    while True:
        chunk = sock.recv(100)
        if not chunk:
            break
        reply += chunk
    if reply != b"hi\n":
        raise SystemExit(f"expected hi then end of file, got {reply!r}")
    time.sleep(args.delay)  # CLOSE_WAIT
    sock.close()  # FIN: LAST_ACK
    print("closed", flush=True)
    time.sleep(1.0)  # the FIN's retransmission and its ACK happen meanwhile


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
