#!/usr/bin/env python3
"""Three HTTP/1.1 requests on one connection (keep-alive), served by Python's http.server.

    http_keepalive.py server [--host H] [--port P]
    http_keepalive.py client [--host H] [--port P] [--count N]

The server is the standard library's http.server.SimpleHTTPRequestHandler (what
`python3 -m http.server --protocol HTTP/1.1` runs) over a temporary directory
holding three files: `0` (16 bytes), `1` (600 bytes) and `2` (1500 bytes, so
its response needs two segments on a 1500-byte MTU). With HTTP/1.1 it keeps
the connection open between requests; it serves one connection and exits.
The client (http.client) sends GET /0, GET /1, GET /2 (N requests, cycling
through the three files) one after the other on a single connection, reading
each response before the next request, and closes first.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import functools
import http.client
import http.server
import os
import socket
import tempfile

SIZES = {"0": 16, "1": 600, "2": 1500}


def parse_args():
    ap = argparse.ArgumentParser(description="HTTP/1.1 keep-alive: several requests on one connection")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=8080, help="server port")
    ap.add_argument("--count", type=int, default=3, help="client: number of requests")
    return ap.parse_args()


def body_of(name):
    line = f"file {name} of http_keepalive.py\n".encode()
    return (line * (SIZES[name] // len(line) + 1))[: SIZES[name]]


class Server(http.server.HTTPServer):
    def __init__(self, address, handler):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # what `python3 -m http.server --protocol HTTP/1.1` sets

    def log_message(self, format, *args):  # quiet
        pass


def server(args):
    with tempfile.TemporaryDirectory() as root:
        for name in SIZES:
            with open(os.path.join(root, name), "wb") as f:
                f.write(body_of(name))
        with Server((args.host, args.port), functools.partial(Handler, directory=root)) as httpd:
            httpd.handle_request()  # one connection, all its requests (keep-alive), until the client closes


def client(args):
    conn = http.client.HTTPConnection(args.host, args.port, timeout=10)
    names = sorted(SIZES)
    for i in range(args.count):
        name = names[i % len(names)]
        conn.request("GET", f"/{name}")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200 or body != body_of(name):
            raise SystemExit(f"GET /{name}: {resp.status}, {len(body)} bytes")
        print(f"GET /{name}: {resp.status} {len(body)} bytes", flush=True)
    conn.close()  # closed here, first


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
