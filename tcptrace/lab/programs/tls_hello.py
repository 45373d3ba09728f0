#!/usr/bin/env python3
"""A TLS handshake with a server name (SNI), then one line each way, with Python's ssl module.

    tls_hello.py server --cert CERT --key KEY [--host H] [--port P]
    tls_hello.py client [--host H] [--port P] [--sni NAME]

The server loads a certificate and key (record.sh makes a self-signed pair
with openssl for each recording), accepts one connection and runs the TLS
handshake (Python's defaults: TLS 1.2 or 1.3, 1.3 where both ends have it).
The client sends a ClientHello naming NAME (default tcptrace.test) in its
server_name extension, does not verify the certificate (it is self-signed),
then sends b"hello\\n" inside TLS; the server answers b"hi\\n"; the client
ends the session first (a close_notify alert), the server answers with its
own; then the client closes the connection (FIN) and the server in turn.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import socket
import ssl


def parse_args():
    ap = argparse.ArgumentParser(description="TLS handshake with SNI and one line each way")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=8443, help="server port")
    ap.add_argument("--cert", help="server: certificate (PEM)")
    ap.add_argument("--key", help="server: private key (PEM)")
    ap.add_argument("--sni", default="tcptrace.test", help="client: the server name to send")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def server(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            if tls.recv(100) != b"hello\n":
                raise SystemExit("expected hello")
            tls.sendall(b"hi\n")
            while tls.recv(100):  # until the client's close_notify
                pass
            tls.unwrap()  # our close_notify in answer


def client(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed: the handshake is what is recorded, not trust
    with (
        socket.create_connection((args.host, args.port), timeout=10) as sock,
        ctx.wrap_socket(sock, server_hostname=args.sni) as tls,
    ):
        tls.sendall(b"hello\n")
        if tls.recv(100) != b"hi\n":
            raise SystemExit("expected hi")
        print(f"{tls.version()} {tls.cipher()[0]}", flush=True)
        tls.unwrap()  # close_notify, and wait for the server's
    # Closed here, first.


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
