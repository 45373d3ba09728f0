"""`tcptrace explain` of every flow against `tcptrace flows`: time and peak RSS (issue #12's explain targets).

    python benchmarks/bench_explain.py [CAPTURE] [--long CAPTURE4X] [--long-flow LONGFLOW] [-n 3] [--python]

Each command runs as its own process through measure_child.py (fresh interpreter; wall time from fork to exit,
peak RSS of that one child), N times interleaved; the table shows the median wall time, the largest peak RSS
and the ratios the issue sets targets for:

* `explain CAPTURE` (all flows, text) and `--format json`: time <= 4x `flows CAPTURE`, peak RSS <= 200 MB;
* `explain CAPTURE4X` (`--long`, made by `stretch_capture.py CAPTURE CAPTURE4X --times 4`: the same flows four
  times over, one after the other, so as many are open at once): peak RSS within 20 % of `explain CAPTURE`'s;
* `explain LONGFLOW` (`--long-flow`, made by `long_flow.py CAPTURE LONGFLOW --packets 2000000`: one connection
  of 2M packets): peak RSS <= 300 MB.

Without CAPTURE, /tmp/tcptrace-bench.pcap (record_bench_capture.sh). `--python` adds the same explain runs with
TCPTRACE_ENGINE=python (the reference path; its speed reported, not targeted). Standard output of the commands
goes to /dev/null. The machine should be otherwise idle: the figures are whole-process times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_CAPTURE = Path("/tmp/tcptrace-bench.pcap")
MIB = 1024 * 1024


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, int]:
    """(wall s, cpu s, peak RSS bytes, exit code) of one run of ``cmd`` (measure_child.py)."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as result:
        subprocess.run(
            [sys.executable, "-I", "-S", str(HERE / "measure_child.py"), result.name, *cmd],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        wall, cpu, rss_kib, code = result.read().split()
    return float(wall), float(cpu), int(rss_kib) * 1024, int(code)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", nargs="?", type=Path, default=DEFAULT_CAPTURE)
    ap.add_argument("--long", type=Path, help="the capture made 4x longer (stretch_capture.py --times 4)")
    ap.add_argument("--long-flow", type=Path, help="one long connection (long_flow.py)")
    ap.add_argument("-n", type=int, default=3, help="runs of each command (median time, largest RSS)")
    ap.add_argument("--python", action="store_true", help="also the explain runs on the Python reference path")
    args = ap.parse_args(argv)
    if not args.capture.exists():
        sys.exit(f"{args.capture}: not found (benchmarks/record_bench_capture.sh records it)")
    py = sys.executable
    base_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    runs: list[tuple[str, list[str], dict[str, str]]] = [
        ("flows", [py, "-m", "tcptrace", "flows", str(args.capture)], base_env),
        ("explain", [py, "-m", "tcptrace", "explain", str(args.capture)], base_env),
        ("explain json", [py, "-m", "tcptrace", "explain", "--format", "json", str(args.capture)], base_env),
    ]
    if args.long:
        runs.append(("explain 4x", [py, "-m", "tcptrace", "explain", str(args.long)], base_env))
    if args.long_flow:
        runs.append(("explain long flow", [py, "-m", "tcptrace", "explain", str(args.long_flow)], base_env))
    if args.python:
        env = {**base_env, "TCPTRACE_ENGINE": "python"}
        runs += [(name + " (python)", cmd, env) for name, cmd, _ in runs if name.startswith("explain")]
    results: dict[str, list[tuple[float, float, int, int]]] = {name: [] for name, _, _ in runs}
    for k in range(max(1, args.n)):
        for name, cmd, env in runs:
            print(f"run {k + 1}/{args.n}: {name}", file=sys.stderr)
            results[name].append(measure(cmd, env))
    wall = {name: statistics.median(r[0] for r in rs) for name, rs in results.items()}
    rss = {name: max(r[2] for r in rs) for name, rs in results.items()}
    print(f"capture: {args.capture}" + (f"; 4x: {args.long}" if args.long else "")
          + (f"; long flow: {args.long_flow}" if args.long_flow else ""))  # fmt: skip
    print(f"{'command':<28} {'wall s (median)':>15} {'cpu s':>7} {'peak RSS MiB':>13} {'x flows':>8}  exit")
    for name, rs in results.items():
        cpu = statistics.median(r[1] for r in rs)
        codes = ",".join(sorted({str(r[3]) for r in rs}))
        print(f"{name:<28} {wall[name]:>15.2f} {cpu:>7.2f} {rss[name] / MIB:>13.1f} {wall[name] / wall['flows']:>8.1f}"
              f"  {codes}")  # fmt: skip
    print()
    print(f"explain / flows time: {wall['explain'] / wall['flows']:.1f}x (target <= 4x); "
          f"explain peak RSS {rss['explain'] / 1e6:.0f} MB (target <= 200 MB)")  # fmt: skip
    if args.long:
        growth = rss["explain 4x"] / rss["explain"] - 1
        print(f"4x longer capture: peak RSS {growth:+.0%} (target within +-20 %)")
    if args.long_flow:
        print(f"long flow: peak RSS {rss['explain long flow'] / 1e6:.0f} MB (target <= 300 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
