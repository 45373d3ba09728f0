"""Scaling of ``flows --jobs N`` and the Dask overhead per file (issue #18; docs/scale.md).

    python benchmarks/scale_bench.py build                 # /tmp/scale-capture/: 33 files of ~64 MB, and all.pcap
    python benchmarks/scale_bench.py run --jobs 1 2 3 4    # flows --jobs N on all.pcap, best of --repeat
    python benchmarks/scale_bench.py dask                  # Dask's overhead per file (a LocalCluster of 2)
    python benchmarks/scale_bench.py readonce              # flows of the files read once: 1 and 2 workers

``build`` makes a capture of more than 2 GB from the benchmark capture (/tmp/tcptrace-bench.pcap, recorded by
record_bench_capture.sh): copy k of its records is shifted in time by k x its duration (+1 s) and its IPv4
addresses' third byte is set to k (10.98.0.2 -> 10.98.k.2), so each copy is 1,500 new connections, not
retransmissions of the old ones (checksums are not verified by tcptrace). The copies are written as one file each
(a ring buffer's files: ``part-000.pcap`` ...) and, since this branch reads one file at a time, also concatenated
into ``all.pcap``: 33 x 64 MB = 2.1 GB, 16 million packets, 49,500 connections.

``run`` times ``python -m tcptrace flows all.pcap --format csv --jobs N`` as a whole process (measure_child.py:
wall time, CPU time of the process and the workers it reaped, peak RSS of the largest single process) and prints the
speed-up over ``--jobs 1``. Each pass of ``--jobs`` reads and decodes every frame and analyses its part of the
connections, so the speed-up is bounded by (read + decode + analyse) / (read + decode + analyse / N) and by the
cores the machine has; ``run`` prints that bound from a pass that reads and decodes everything and analyses
almost nothing (part 0 of 2**20).

``dask`` starts a LocalCluster of 2 worker processes (one thread each), and per file of the ring buffer runs the
same pass once in this process and once as a Dask task (submit, run on a worker, gather the result): the
difference is Dask's overhead per file (scheduling, pickling the result, the round trips). Run it on a quiet
machine; on a shared one, quote medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = Path("/tmp/scale-capture")


def _records(data: bytes) -> tuple[bytes, str, bool, list[tuple[int, int, bytes]]]:
    """stretch_capture.records (the pcap's header, byte order and records, times in ns), and whether it is the
    nanosecond format."""
    sys.path.insert(0, str(HERE))
    from stretch_capture import records

    header, order, recs = records(data)
    return header, order, struct.unpack_from(order + "I", header)[0] == 0xA1B23C4D, recs


def _moved(frame: bytes, k: int) -> bytes:
    """Copy k of an Ethernet + IPv4 frame: both addresses' third byte set to k."""
    if k == 0 or len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[14] >> 4 != 4:
        return frame
    b = bytearray(frame)
    b[14 + 12 + 2] = k % 256
    b[14 + 16 + 2] = k % 256
    return bytes(b)


def build(source: Path, copies: int, out: Path) -> None:
    header, order, nano, recs = _records(source.read_bytes())
    span = recs[-1][0] - recs[0][0] + 1_000_000_000
    out.mkdir(parents=True, exist_ok=True)
    pack = struct.Struct(order + "IIII").pack
    total = 0
    with open(out / "all.pcap", "wb") as whole:
        whole.write(header)
        for k in range(copies):
            chunks = []
            for ts, origlen, frame in recs:
                ts += k * span
                sec, sub = divmod(ts, 1_000_000_000)
                body = _moved(frame, k)
                chunks.append(pack(sec, sub if nano else sub // 1000, len(body), origlen) + body)
            data = b"".join(chunks)
            (out / f"part-{k:03d}.pcap").write_bytes(header + data)
            whole.write(data)
            total += len(data) + len(header)
    print(f"{out}: {copies} files (part-000.pcap ...) and all.pcap, {total / 1e9:.2f} GB, "
          f"{copies * len(recs):,} packets", file=sys.stderr)  # fmt: skip


def _measure(cmd: list[str]) -> tuple[float, float, int]:
    with tempfile.NamedTemporaryFile("r", prefix="scale-bench-", suffix=".txt") as res:
        launcher = [sys.executable, "-I", "-S", str(HERE / "measure_child.py"), res.name]
        subprocess.run(launcher + cmd, stdout=subprocess.DEVNULL, check=True)
        wall, cpu, rss, _code = res.read().split()
    return float(wall), float(cpu), int(rss)


def run(capture: Path, jobs: list[int], repeat: int) -> None:
    py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    print(f"flows --format csv on {capture} ({capture.stat().st_size / 1e9:.2f} GB), {os.cpu_count()} cores, "
          f"best of {repeat} (wall s, cpu s, peak RSS MB of one process)")  # fmt: skip
    results: dict[int, tuple[float, float, int]] = {}
    for n in jobs:
        runs = [_measure([py, "-m", "tcptrace", "flows", str(capture), "--format", "csv", "--jobs", str(n)])
                for _ in range(repeat)]  # fmt: skip
        best = min(runs)
        results[n] = best
        base = results[jobs[0]][0]
        print(f"  --jobs {n:<3} wall {best[0]:7.2f}  cpu {best[1]:7.2f}  rss {best[2] / 1024:7.0f}  "
              f"speed-up {base / best[0]:.2f}x  (median wall {statistics.median(r[0] for r in runs):.2f})")  # fmt: skip
    # one pass that reads and decodes every frame and tracks almost nothing (part 0 of 2**20): the reading's cost
    code = ("import sys; from tcptrace.parallel import Rows, analyse_part; from tcptrace.selection import Selection; "
            "analyse_part([sys.argv[1]], 0, 1 << 20, Rows(Selection()))")  # fmt: skip
    read = min(_measure([py, "-c", code, str(capture)])[1] for _ in range(repeat))
    one = results[1][1] if 1 in results else results[jobs[0]][1]
    analyse = max(one - read, 0.0)
    print(f"  one pass: {read:.2f} s CPU reading and decoding, {analyse:.2f} s tracking and analysing")
    for n in (2, 4, 8, 16):
        print(f"  bound with {n} free cores: {(read + analyse) / (read + analyse / n):.2f}x")


def dask_overhead(files: list[Path]) -> None:
    from dask.distributed import Client, LocalCluster

    from tcptrace.parallel import Rows, analyse_part
    from tcptrace.selection import Selection

    per_stream = Rows(Selection())
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.submit(analyse_part, [str(files[0])], 0, 1, per_stream, pure=False).result()  # warm the workers
        empty = []
        for _ in range(20):
            t = time.perf_counter()
            client.submit(len, [1], pure=False).result()
            empty.append(time.perf_counter() - t)
        print(f"an empty task's round trip: median {statistics.median(empty) * 1000:.1f} ms")
        local, remote = [], []
        for f in files:
            t = time.perf_counter()
            analyse_part([str(f)], 0, 1, per_stream)
            local.append(time.perf_counter() - t)
            t = time.perf_counter()
            client.submit(analyse_part, [str(f)], 0, 1, per_stream, pure=False).result()
            remote.append(time.perf_counter() - t)
    over = [r - lo for r, lo in zip(remote, local, strict=True)]
    print(f"Dask (LocalCluster, 2 processes) on {len(files)} files of {files[0].stat().st_size / 1e6:.0f} MB: "
          f"local pass median {statistics.median(local):.3f} s, as a task {statistics.median(remote):.3f} s, "
          f"overhead per file median {statistics.median(over) * 1000:.0f} ms "
          f"(min {min(over) * 1000:.0f}, max {max(over) * 1000:.0f})")  # fmt: skip


def read_once(files: list[Path], workers: list[int], repeat: int) -> None:
    """``flows`` of the ring buffer's files on LocalClusters of 1, 2 ... worker processes through the read-once path
    (tcptrace.parallel.run_read_once: a task per file reads and splits it, a task per part analyses its frames),
    against one process reading the files merged (MergedReader, no Dask): wall time, best of ``repeat``, and
    how the time splits between the reading tasks and the part tasks (measured in a run of its own)."""
    from dask.distributed import Client, LocalCluster

    from tcptrace import parallel
    from tcptrace.parallel import Rows, run_parts
    from tcptrace.selection import Selection
    from tcptrace.sources import CaptureSet

    source = CaptureSet([str(f) for f in files])
    per_stream = Rows(Selection())
    size = sum(f.stat().st_size for f in files)

    def flows(client: object) -> tuple[float, int]:
        t = time.perf_counter()
        items, _stats, total = run_parts([source], 0, per_stream, dask=client)
        rows = sum(1 for _ in items)
        assert rows == total
        return time.perf_counter() - t, total

    one = []
    for _ in range(repeat):
        t = time.perf_counter()
        items, _stats, total = run_parts([source], 1, per_stream)
        for _ in items:
            pass
        one.append(time.perf_counter() - t)
    print(f"{len(files)} files, {size / 1e9:.2f} GB, {total} streams")
    print(f"  one process (the files merged, no Dask): {min(one):.2f} s")
    base = None
    for w in workers:
        with (
            LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            client.submit(len, [1], pure=False).result()  # the workers are up
            taken: list[bool] = []
            real = parallel.run_read_once

            def spy(*a: object, _real: object = real, _taken: list[bool] = taken) -> object:
                got = _real(*a)  # type: ignore[operator]
                _taken.append(got is not None)
                return got

            parallel.run_read_once = spy  # type: ignore[assignment]
            try:
                times = [flows(client)[0] for _ in range(repeat)]
            finally:
                parallel.run_read_once = real
            assert all(taken), "the read-once path was not taken"
            best = min(times)
            base = base or best
            print(f"  read once, {w} worker(s): {best:.2f} s ({size / best / 1e6:.0f} MB/s; "
                  f"{base / best:.2f}x the 1-worker run; {min(one) / best:.2f}x one process)")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--source", type=Path, default=Path("/tmp/tcptrace-bench.pcap"))
    b.add_argument("--copies", type=int, default=33)
    b.add_argument("--out", type=Path, default=OUT)
    r = sub.add_parser("run")
    r.add_argument("--capture", type=Path, default=OUT / "all.pcap")
    r.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 3, 4])
    r.add_argument("--repeat", type=int, default=3)
    d = sub.add_parser("dask")
    d.add_argument("--files", type=int, default=8)
    d.add_argument("--dir", type=Path, default=OUT)
    o = sub.add_parser("readonce")
    o.add_argument("--files", type=int, default=33)
    o.add_argument("--dir", type=Path, default=OUT)
    o.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    o.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "build":
        build(args.source, args.copies, args.out)
    elif args.cmd == "run":
        run(args.capture, args.jobs, args.repeat)
    elif args.cmd == "readonce":
        read_once(sorted(args.dir.glob("part-*.pcap"))[: args.files], args.workers, args.repeat)
    else:
        dask_overhead(sorted(args.dir.glob("part-*.pcap"))[: args.files])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
