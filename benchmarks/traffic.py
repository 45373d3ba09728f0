"""Stdlib-only TCP traffic generator used to record the tcptrace benchmark capture.

Run one ``server`` and one ``client`` (normally in two network namespaces, see
``record_bench_capture.sh``).  The client opens a deterministic, seeded mix of
connections:

* ``rpc``       -- many small request/response rounds on one connection (most connections)
* ``web``       -- one small request, one response of 1 KB .. 150 KB; half closed by the server first
* ``bulk_down`` -- one small request, a download of a few hundred KB .. a few MB
* ``bulk_up``   -- an upload of a few hundred KB .. a few MB, small reply
* ``abort``     -- a few rpc rounds, then an abortive close (SO_LINGER 0 -> RST)
* ``refused``   -- a connect to a port nobody listens on (SYN, RST)

Wire protocol: every request is a header ``!BII`` (flags, upload_len, download_len)
followed by ``upload_len`` bytes; the server answers with ``download_len`` bytes.
Flag bit 0 asks the server to close the connection after that response.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

HEADER = struct.Struct("!BII")
FLAG_SERVER_CLOSE = 0x01
MAX_TRANSFER = 64 * 1024 * 1024
MAX_ROUNDS = 10_000
IO_CHUNK = 256 * 1024
PAYLOAD = bytes(random.Random(0x7C9).getrandbits(8) for _ in range(IO_CHUNK))
SOCKET_TIMEOUT = 60.0


def recv_exact(sock: socket.socket, size: int) -> bytes | None:
    """Read exactly ``size`` bytes; ``None`` on a clean EOF before the first byte."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = sock.recv(min(remaining, IO_CHUNK))
        if not chunk:
            if remaining == size:
                return None
            raise ConnectionError(f"EOF after {size - remaining} of {size} bytes")
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def drain(sock: socket.socket, size: int) -> None:
    """Read and discard exactly ``size`` bytes."""
    buf = bytearray(min(max(size, 1), IO_CHUNK))
    view = memoryview(buf)
    remaining = size
    while remaining > 0:
        got = sock.recv_into(view[: min(remaining, len(buf))])
        if got == 0:
            raise ConnectionError(f"EOF after {size - remaining} of {size} bytes")
        remaining -= got


def send_bytes(sock: socket.socket, size: int, prefix: bytes = b"") -> None:
    """Send ``prefix`` followed by ``size`` payload bytes (in one write when small)."""
    first = min(size, IO_CHUNK)
    sock.sendall(prefix + PAYLOAD[:first])
    remaining = size - first
    view = memoryview(PAYLOAD)
    while remaining > 0:
        n = min(remaining, IO_CHUNK)
        sock.sendall(view[:n])
        remaining -= n


# --------------------------------------------------------------------------- server


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(SOCKET_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for _ in range(MAX_ROUNDS):
                header = recv_exact(sock, HEADER.size)
                if header is None:
                    break
                flags, upload, download = HEADER.unpack(header)
                if upload > MAX_TRANSFER or download > MAX_TRANSFER:
                    break
                drain(sock, upload)
                send_bytes(sock, download)
                if flags & FLAG_SERVER_CLOSE:
                    break
        except OSError:
            pass  # resets (abort connections) and timeouts are expected


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256


def run_server(host: str, port: int, max_seconds: float) -> int:
    server = _Server((host, port), _Handler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    print(f"server listening on {host}:{port}", file=sys.stderr, flush=True)
    stop.wait(max_seconds)
    server.shutdown()
    server.server_close()
    return 0


# --------------------------------------------------------------------------- client


@dataclass(frozen=True)
class ConnSpec:
    kind: str
    rounds: tuple[tuple[int, int], ...]  # (upload, download) per round
    server_close: bool = False
    abort: bool = False


@dataclass
class ClientStats:
    kinds: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    bytes_up: int = 0
    bytes_down: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


MIX: tuple[tuple[str, float], ...] = (
    ("rpc", 0.55),
    ("web", 0.25),
    ("bulk_down", 0.09),
    ("bulk_up", 0.05),
    ("abort", 0.04),
    ("refused", 0.02),
)


def log_uniform(rng: random.Random, low: float, high: float) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def small_round(rng: random.Random) -> tuple[int, int]:
    """One rpc exchange: a 32..600 byte request and a 64..4096 byte response."""
    return log_uniform(rng, 32, 600), log_uniform(rng, 64, 4096)


def make_plan(count: int, seed: int) -> list[ConnSpec]:
    """Deterministic list of ``count`` connection specs."""
    rng = random.Random(seed)
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    plan: list[ConnSpec] = []
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "rpc":
            rounds = tuple(small_round(rng) for _ in range(rng.randint(40, 200)))
            plan.append(ConnSpec(kind, rounds, server_close=rng.random() < 0.2))
        elif kind == "web":
            rounds = ((log_uniform(rng, 150, 900), log_uniform(rng, 1_000, 150_000)),)
            plan.append(ConnSpec(kind, rounds, server_close=rng.random() < 0.5))
        elif kind == "bulk_down":
            plan.append(ConnSpec(kind, ((log_uniform(rng, 80, 300), log_uniform(rng, 200_000, 2_400_000)),)))
        elif kind == "bulk_up":
            plan.append(ConnSpec(kind, ((log_uniform(rng, 200_000, 2_400_000), log_uniform(rng, 20, 200)),)))
        elif kind == "abort":
            rounds = tuple(small_round(rng) for _ in range(rng.randint(1, 8)))
            plan.append(ConnSpec(kind, rounds, abort=True))
        else:
            plan.append(ConnSpec(kind, ()))
    return plan


def run_connection(spec: ConnSpec, host: str, port: int, refused_port: int, stats: ClientStats) -> None:
    try:
        if spec.kind == "refused":
            with contextlib.suppress(ConnectionRefusedError):
                socket.create_connection((host, refused_port), timeout=SOCKET_TIMEOUT).close()
            _record(stats, spec, 0, 0)
            return
        up_total = down_total = 0
        with socket.create_connection((host, port), timeout=SOCKET_TIMEOUT) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            last = len(spec.rounds) - 1
            for index, (upload, download) in enumerate(spec.rounds):
                flags = FLAG_SERVER_CLOSE if spec.server_close and index == last else 0
                send_bytes(sock, upload, HEADER.pack(flags, upload, download))
                drain(sock, download)
                up_total += upload
                down_total += download
            if spec.abort:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                if not spec.server_close:
                    sock.shutdown(socket.SHUT_WR)
                if sock.recv(1):
                    raise ConnectionError("unexpected data before EOF")
        _record(stats, spec, up_total, down_total)
    except OSError as exc:
        with stats.lock:
            stats.errors[f"{spec.kind}:{type(exc).__name__}"] += 1


def _record(stats: ClientStats, spec: ConnSpec, up: int, down: int) -> None:
    with stats.lock:
        stats.kinds[spec.kind] += 1
        stats.bytes_up += up
        stats.bytes_down += down


def run_client(host: str, port: int, refused_port: int, connections: int, parallel: int, seed: int) -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the run like Ctrl-C
    plan = make_plan(connections, seed)
    stats = ClientStats()
    start = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        for spec in plan:
            pool.submit(run_connection, spec, host, port, refused_port, stats)
        pool.shutdown(wait=True)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        print("client: interrupted", file=sys.stderr)
        return 130
    elapsed = time.monotonic() - start
    done = sum(stats.kinds.values())
    print(
        f"client: {done}/{connections} connections in {elapsed:.1f}s "
        f"({dict(sorted(stats.kinds.items()))}), up {stats.bytes_up / 1e6:.1f} MB, "
        f"down {stats.bytes_down / 1e6:.1f} MB, errors {dict(stats.errors) or 'none'}",
        file=sys.stderr,
    )
    return 0 if done >= connections * 0.98 else 1


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    sub = parser.add_subparsers(dest="role", required=True)
    server = sub.add_parser("server", help="serve requests until SIGTERM or --max-seconds")
    server.add_argument("--host", default="10.98.0.1")
    server.add_argument("--port", type=int, default=5001)
    server.add_argument("--max-seconds", type=float, default=900.0)
    client = sub.add_parser("client", help="run the connection mix against a server")
    client.add_argument("--host", default="10.98.0.1")
    client.add_argument("--port", type=int, default=5001)
    client.add_argument("--refused-port", type=int, default=5002, help="a closed port, for 'refused'")
    client.add_argument("--connections", type=int, default=1500)
    client.add_argument("--parallel", type=int, default=16)
    client.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.role == "server":
        return run_server(args.host, args.port, args.max_seconds)
    return run_client(args.host, args.port, args.refused_port, args.connections, args.parallel, args.seed)


if __name__ == "__main__":
    sys.exit(main())
