#!/usr/bin/env python3
"""TCP echo server used to record the sample captures.

    echo_server.py [--host HOST] [--port PORT] [--count N] [--close-after BYTES]

Listens on HOST:PORT (IPv4 or IPv6 address; default 0.0.0.0:20000), serves N
connections one after the other (default 1), then exits.

For each connection it sends back everything it receives. By default it closes
its side only when the client has closed (recv() returns b""), so the client
sends the first FIN. With --close-after BYTES the server closes first, as soon
as it has echoed that many bytes: then the *server* keeps the TIME_WAIT state,
and the client may reconnect from the same source port right away (this is
how port_reuse.pcap is made).
"""

import argparse
import socket


def parse_args():
    ap = argparse.ArgumentParser(description="TCP echo server")
    ap.add_argument("--host", default="0.0.0.0", help="address to listen on")
    ap.add_argument("--port", type=int, default=20000, help="port to listen on")
    ap.add_argument("--count", type=int, default=1, help="number of connections to serve before exiting")
    ap.add_argument(
        "--close-after",
        type=int,
        default=0,
        metavar="BYTES",
        help="close first after echoing BYTES bytes (0: wait for the client)",
    )
    return ap.parse_args()


def serve_one(conn, close_after):
    echoed = 0
    while True:
        data = conn.recv(65536)
        if not data:
            # The client closed its side: close ours (our FIN answers theirs).
            return
        conn.sendall(data)
        echoed += len(data)
        if close_after and echoed >= close_after:
            # Close first: our FIN goes out before the client's.
            return


def main():
    args = parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as srv:
        # SO_REUSEADDR lets the listener bind while an old connection on the
        # same port is still in TIME_WAIT (the port_reuse recording).
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        print(f"listening on {args.host} port {args.port}", flush=True)
        for _ in range(args.count):
            conn, peer = srv.accept()
            with conn:
                print(f"connection from {peer[0]} port {peer[1]}", flush=True)
                serve_one(conn, args.close_after)


if __name__ == "__main__":
    main()
