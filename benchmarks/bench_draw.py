"""Time and peak memory of `tcptrace diagram` and `tcptrace graph`, whole processes (issue #12's drawing targets).

    python benchmarks/bench_draw.py [--capture CAPTURE] [--long LONG_FLOW] [--stream N] [--repeat 5]
                                     [--skip-long] [--skip-short]

Two sets of measurements, each command run as its own child process through benchmarks/measure_child.py (wall
time, CPU time and peak RSS of that one process, launcher start-up excluded), interleaved round by round, the
median of --repeat runs reported:

* one stream of the benchmark capture (default /tmp/tcptrace-bench.pcap, recorded by record_bench_capture.sh):
  `diagram -s N` as PNG and as ASCII, and `graph -s N` (tsg, PNG), each against `flows` on the same capture in the
  same rounds (target: at most 2x the time of `flows`);
* one long connection (default /tmp/tcptrace-long-flow.pcap, made from the benchmark capture with
  benchmarks/long_flow.py --packets 2000000 when missing): `diagram` as PNG and as ASCII and the four `graph` kinds,
  once each (target: peak RSS at most 300 MB).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEASURE_CHILD = HERE / "measure_child.py"
DEFAULT_CAPTURE = Path("/tmp/tcptrace-bench.pcap")
DEFAULT_LONG = Path("/tmp/tcptrace-long-flow.pcap")
TARGET_VS_FLOWS = 2.0
TARGET_RSS_MB = 300.0


def measure(argv: list[str]) -> tuple[float, float, float, int]:
    """(wall s, cpu s, peak RSS MB, exit code) of one run of ``argv``, its output thrown away."""
    with tempfile.NamedTemporaryFile("r") as result:
        subprocess.run([sys.executable, "-I", "-S", str(MEASURE_CHILD), result.name, *argv],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # fmt: skip
        wall, cpu, rss_kib, code = result.read().split()
    return float(wall), float(cpu), int(rss_kib) / 1024 * 1.048576, int(code)


def tcptrace(*args: str) -> list[str]:
    return [sys.executable, "-m", "tcptrace", *args]


def short(capture: Path, stream: int, repeat: int, out: Path) -> None:
    cap, s = str(capture), str(stream)
    commands = {
        "flows": tcptrace("flows", cap),
        f"diagram -s {s} -o PNG": tcptrace("diagram", "-s", s, "-o", str(out / "d.png"), cap),
        f"diagram -s {s} --format ascii": tcptrace("diagram", "-s", s, "--format", "ascii", cap),
        f"graph -s {s} -o PNG (tsg)": tcptrace("graph", "-s", s, "-o", str(out / "g.png"), cap),
    }
    runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: page cache, font cache, .pyc
        measure(argv)
    for _ in range(repeat):
        for name, argv in commands.items():
            runs[name].append(measure(argv))
    flows_wall = statistics.median(r[0] for r in runs["flows"])
    flows_cpu = statistics.median(r[1] for r in runs["flows"])
    print(f"{capture}, stream {stream}: median of {repeat} runs, whole processes")
    print(f"  {'command':<34} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} {'wall/flows':>11} {'cpu/flows':>10}")
    for name, rs in runs.items():
        wall, cpu = statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)
        rss = max(r[2] for r in rs)
        bad = sum(r[3] != 0 for r in rs)
        verdict = "" if name == "flows" else ("  ok" if wall / flows_wall <= TARGET_VS_FLOWS else "  over 2x")
        print(f"  {name:<34} {wall:7.3f} {cpu:7.3f} {rss:8.1f} {wall / flows_wall:10.2f}x {cpu / flows_cpu:9.2f}x"
              f"{verdict}{f'  ({bad} failed)' if bad else ''}")  # fmt: skip


def long(path: Path, capture: Path, out: Path) -> None:
    if not path.exists():
        print(f"making {path} from {capture} (benchmarks/long_flow.py --packets 2000000) ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "long_flow.py"), str(capture), str(path), "--packets", "2000000"],
                       check=True, cwd=HERE)  # fmt: skip
    commands = {
        "diagram -o PNG": tcptrace("diagram", "-o", str(out / "long.png"), str(path)),
        "diagram --format ascii": tcptrace("diagram", "--format", "ascii", str(path)),
        **{f"graph --kind {k} -o PNG": tcptrace("graph", "--kind", k, "-o", str(out / f"{k}.png"), str(path))
           for k in ("tsg", "throughput", "rtt", "window")},
    }  # fmt: skip
    print(f"{path}: one run each, whole processes (target: peak RSS <= {TARGET_RSS_MB:g} MB)")
    print(f"  {'command':<34} {'wall s':>7} {'cpu s':>7} {'peak MB':>8}")
    for name, argv in commands.items():
        wall, cpu, rss, code = measure(argv)
        verdict = "ok" if rss <= TARGET_RSS_MB and code == 0 else ("FAILED" if code else "over")
        print(f"  {name:<34} {wall:7.1f} {cpu:7.1f} {rss:8.1f}  {verdict}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    ap.add_argument("--long", type=Path, default=DEFAULT_LONG)
    ap.add_argument("--stream", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-long", action="store_true")
    ap.add_argument("--skip-short", action="store_true")
    args = ap.parse_args(argv)
    if not args.capture.exists():
        print(f"{args.capture} is missing: record it with benchmarks/record_bench_capture.sh", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_short:
            short(args.capture, args.stream, args.repeat, Path(tmp))
        if not args.skip_long:
            long(args.long, args.capture, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
