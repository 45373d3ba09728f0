#!/usr/bin/env python3
"""Five messages, End, Finish!, then a close chosen by --closer.

    finish.py server [--host H] [--port P] [--closer WHO] [--delay S]
    finish.py client [--host H] [--port P] [--closer WHO] [--delay S]
                     [--count N] [--interval S]

The client sends N short messages (default 5), b"message 1\\n" to
b"message N\\n", each with one send() and INTERVAL seconds (default 0.1)
after each, so that each travels in its own segment; then b"End\\n". The
server reads lines until End and answers b"Finish!\\n". Then the connection
is closed; WHO (the same on both sides) says who closes first:

  client  the client closes as soon as it has read Finish! (FIN_WAIT_1,
          FIN_WAIT_2, TIME_WAIT); the server reads end of file, waits S
          seconds (default 0.2) in CLOSE_WAIT and closes (LAST_ACK).
  server  the server closes right after sending Finish!; the client reads
          Finish! and end of file, waits S seconds and closes.
  both    both sides sleep until the same absolute time, the first whole
          second of the clock at least 0.3 s after the Finish! exchange
          (the server right after sending it, the client right after
          reading it, a fraction of a millisecond later), and then call
          shutdown(SHUT_WR) at once: a simultaneous close, both FINs on the
          wire before either is acknowledged if the timing works out
          (FIN_WAIT_1, CLOSING, TIME_WAIT on both sides). For precision,
          each side spends the last 50 ms spinning on the clock instead of
          sleeping, pinned to a CPU of its own (server the first allowed
          CPU, client the second, if there are two) and, when run as root,
          at real-time priority (SCHED_FIFO 1), so that neither is
          preempted at the deadline: a few tens of microseconds late are
          enough for the first FIN to arrive before the other side sends
          its own. Each side then reads to end of file and closes.

The delay S makes the closing handshake take four segments (FIN, its ACK,
FIN, its ACK): without it the second side's FIN would usually carry the ACK
of the first FIN.

Addresses may be IPv4 or IPv6 (an address with ":" is IPv6).
"""

import argparse
import contextlib
import math
import os
import socket
import time


def parse_args():
    ap = argparse.ArgumentParser(description="messages, End/Finish!, then a chosen close")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--host", default="10.99.0.1", help="server address")
    ap.add_argument("--port", type=int, default=20000, help="server port")
    ap.add_argument("--closer", choices=["client", "server", "both"], default="client", help="who closes first")
    ap.add_argument("--delay", type=float, default=0.2, help="seconds the second side waits before closing")
    ap.add_argument("--count", type=int, default=5, help="client: messages before End")
    ap.add_argument("--interval", type=float, default=0.1, help="client: seconds after each message")
    return ap.parse_args()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def read_to_eof(sock):
    while sock.recv(100):
        pass


def shutdown_in_sync(sock, me):
    """Sleep until the next whole second at least 0.3 s away, then FIN."""
    deadline = math.ceil(time.time() + 0.3)
    # Server and client each on a CPU of their own (if there are two) and,
    # if allowed (root), at real-time priority, so that both are running at
    # the deadline, not preempted by whatever else the machine is doing.
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[0] if me == "server" else cpus[1]})
    with contextlib.suppress(PermissionError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    time.sleep(max(0.0, deadline - time.time() - 0.05))
    while time.time() < deadline:  # spin the last 50 ms
        pass
    sock.shutdown(socket.SHUT_WR)


def close_as_told(sock, args, me):
    """Close our side of sock according to --closer, `me` being our role."""
    if args.closer == "both":
        shutdown_in_sync(sock, me)
        read_to_eof(sock)
    elif args.closer == me:
        pass  # first: close at once
    else:
        read_to_eof(sock)  # the other side's FIN
        time.sleep(args.delay)
    sock.close()


def server(args):
    with socket.socket(family_of(args.host), socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((args.host, args.port))
        srv.listen(1)
        conn, _ = srv.accept()
        received = b""
        while not received.endswith(b"End\n"):
            chunk = conn.recv(100)
            if not chunk:
                raise SystemExit(f"closed before End (have {received!r})")
            received += chunk
        conn.sendall(b"Finish!\n")
        close_as_told(conn, args, "server")


def client(args):
    sock = socket.socket(family_of(args.host), socket.SOCK_STREAM)
    sock.connect((args.host, args.port))
    for i in range(1, args.count + 1):
        message = f"message {i}\n".encode()
        if sock.send(message) != len(message):
            raise SystemExit("short send")
        time.sleep(args.interval)
    sock.sendall(b"End\n")
    answer = b""
    while answer != b"Finish!\n":
        chunk = sock.recv(100)
        if not chunk:
            raise SystemExit(f"closed before Finish! (have {answer!r})")
        answer += chunk
    close_as_told(sock, args, "client")
    print("finished", flush=True)


def main():
    args = parse_args()
    server(args) if args.role == "server" else client(args)


if __name__ == "__main__":
    main()
