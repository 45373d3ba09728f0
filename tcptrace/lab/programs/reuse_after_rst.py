#!/usr/bin/env python3
"""The same four-tuple reused right after a RST (no TIME_WAIT anywhere).

    reuse_after_rst.py server [--host H] [--port P]
    reuse_after_rst.py client [--host H] [--port P] [--source-port SP] [--pause S]

The client binds the fixed source port SP (default 40001, with
SO_REUSEADDR), connects, sends b"hello\\n" and reads the server's b"hi\\n";
0.2 s later it aborts: SO_LINGER {l_onoff 1, l_linger 0} and close(), so a
RST is sent instead of a FIN and neither side keeps the connection in
TIME_WAIT. S seconds (default 0.2) later it binds the same source port again
and connects to the same server port: the same four-tuple, a new connection
(new initial sequence number). hello/hi again, and this time the client
closes normally (FIN) 0.2 s after hi; the server reads end of file and closes
in turn.

The server accepts the two connections one after the other: for the first it
expects ECONNRESET after hi, for the second end of file.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import struct
import time


def parse_args():
    ap = argparse.ArgumentParser(description="reconnect from the same port right after a RST")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--source-port", type=int, default=40001, help="client: fixed source port")
    ap.add_argument("--pause", type=float, default=0.2, help="client: seconds between the RST and the new SYN")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(2)
        for expect_reset in (True, False):
            conn, peer = srv.accept()
            with conn:
                if conn.recv(100) != b"hello\n":
                    raise SystemExit("expected hello")
                conn.sendall(b"hi\n")
                try:
                    rest = conn.recv(100)
                except ConnectionResetError:
                    rest = None
                if expect_reset and rest is not None:
                    raise SystemExit(f"expected a reset from {peer}, got {rest!r}")
                if not expect_reset and rest != b"":
                    raise SystemExit(f"expected end of file from {peer}, got {rest!r}")
                print(f"{peer}: {'reset' if rest is None else 'end of file'}", flush=True)
            # First connection: already gone, this close() sends nothing.
            # Second: our FIN answers the client's.


def connect_from(args):
    sock = socket.socket(family_of(args.host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::" if ":" in args.host else "0.0.0.0", args.source_port))
    sock.connect((args.host, args.port))
    sock.sendall(b"hello\n")
    if sock.recv(100) != b"hi\n":
        raise SystemExit("expected hi")
    time.sleep(0.2)  # our ACK of hi goes out on its own first
    return sock


def client(args):
    sock = connect_from(args)
    # struct linger {int l_onoff; int l_linger;}: on, 0 seconds = abort.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST instead of FIN: no TIME_WAIT
    print("first connection aborted", flush=True)
    time.sleep(args.pause)
    sock = connect_from(args)  # same source port, same server port
    sock.close()  # FIN this time
    print("second connection closed", flush=True)


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
