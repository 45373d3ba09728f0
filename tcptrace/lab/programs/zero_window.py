#!/usr/bin/env python3
"""A slow reader, to record a zero window and the sender's window probes.

    zero_window.py server [--host H] [--port P] [--rcvbuf B] [--stall S] [--size N]
    zero_window.py client [--host H] [--port P] [--size N]

The server makes its receive buffer small (SO_RCVBUF=B, default 4096, set on
the listening socket before listen(), so the accepted socket inherits it and
the handshake already announces a small window), accepts one connection and
then does not read for S seconds (default 2). The client meanwhile sends N
bytes (default 65536): after a few kilobytes the server's buffer is full and
its kernel advertises a window of 0. The client's kernel then stops sending
and its persist timer sends window probes (first after the retransmission
timeout, at least 200 ms, then with exponential backoff: about 0.2, 0.65 and
1.5 s after the window closed), each answered by the server with a zero
window again. Linux's probe carries no data: it is a bare ACK with sequence
number snd_una - 1, the same segment as a keep-alive. When the server starts
reading, its kernel sends a window update, the rest of the data flows, the
server closes after N bytes and the client, having waited for that close,
closes too.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="slow reader (zero window)")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--size", type=int, default=65536, help="bytes the client sends")
    ap.add_argument("--rcvbuf", type=int, default=4096, help="server SO_RCVBUF")
    ap.add_argument("--stall", type=float, default=2.0, help="seconds the server waits before reading")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Before listen(): the window scale and the first windows are chosen
        # from this buffer (Linux doubles the value for its own bookkeeping).
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with conn:
            time.sleep(args.stall)  # the stall: nobody reads
            received = 0
            while received < args.size:
                chunk = conn.recv(65536)
                if not chunk:
                    raise SystemExit("client closed early")
                received += len(chunk)
            print(f"read {received} bytes", flush=True)
        # Leaving the with-block closes the connection: our FIN.


def client(args):
    data = b"z" * args.size
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as sock:
        sock.connect((args.host, args.port))
        # Blocks while the window is closed, until the kernel has queued all.
        sock.sendall(data)
        # Wait for the server to close first, then close (our FIN).
        while sock.recv(65536):
            pass
        print(f"sent {len(data)} bytes", flush=True)


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
