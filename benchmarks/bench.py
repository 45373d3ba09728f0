"""Benchmark tcptrace (this package) against tshark, classic C tcptrace and a bare Python loop.

    python benchmarks/bench.py [CAPTURE] [--repeat 3] [--json] [--packets]

Without CAPTURE, /tmp/tcptrace-bench.pcap is used and, if missing, recorded first with
benchmarks/record_bench_capture.sh (which needs root).

Every tool runs as its own child process, N times, interleaved round by round.  Each run
goes through benchmarks/measure_child.py, a fresh ``python -I -S`` launcher that forks and
execs the tool and reads that one child's rusage with ``os.wait4``: wall time (fork to
exit, launcher start-up excluded), CPU time and peak RSS are per run, not accumulated,
and not inflated by bench.py's own memory (see measure_child.py).  Standard output of
each run goes to a temporary file (parsed for the capture facts); the best wall time and
the largest peak RSS over the runs are reported.

``--packets`` adds `tcptrace packets` over the whole capture (jsonl, csv, table) and its reference, tshark's
per-packet fields with the analysis flags (issue #12's target: jsonl at least 5x faster than that).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_CAPTURE = Path("/tmp/tcptrace-bench.pcap")
RECORD_SCRIPT = HERE / "record_bench_capture.sh"
PCAP_LOOP = HERE / "pcap_loop.py"
MEASURE_CHILD = HERE / "measure_child.py"
CLASSIC_TCPTRACE = Path("/usr/bin/tcptrace")  # absolute: `tcptrace` on PATH may be our own entry point
TSHARK_NAME = "tshark conv,tcp"
CLASSIC_NAME = "classic tcptrace -l"
BARE_NAME = "bare unpack_from loop"
FLOWS_TABLE_NAME = "tcptrace flows (table)"
FLOWS_JSON_NAME = "tcptrace flows --format json"
TSHARK_FIELDS_NAME = "tshark -T fields analysis"
PACKETS_JSONL_NAME = "tcptrace packets jsonl"
# tshark's per-packet reference for `tcptrace packets`: frame, stream, relative seq/ack, length, window, flags
TSHARK_FIELDS = ["frame.number", "tcp.stream", "tcp.seq", "tcp.ack", "tcp.len", "tcp.window_size"]
TSHARK_FIELDS += ["tcp.analysis.flags"]
# Issue #12's target for `tcptrace packets --format jsonl` over the whole capture: 5x faster than tshark's fields.
TARGET_PACKETS_VS_TSHARK_FIELDS = 1 / 5
# Issue #3's target for `tcptrace flows`: at least 5x faster than tshark, within 2x of classic tcptrace.
TARGET_VS_TSHARK = 1 / 5
TARGET_VS_CLASSIC = 2.0
TRACK_SNIPPET = "import tcptrace.flow as f, sys; print(f.track_capture(sys.argv[1]))"


@dataclass
class Tool:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    missing: str | None = None  # set when the tool cannot even be started


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    exit_code: int


@dataclass
class ToolResult:
    name: str
    command: list[str]
    status: str = "ok"  # "ok" or "unavailable"
    error: str | None = None
    stdout_head: str | None = None  # first 300 characters of the first run's output
    runs: list[Run] = field(default_factory=list)
    best_seconds: float | None = None
    median_seconds: float | None = None
    cpu_seconds: float | None = None
    packets_per_second: float | None = None
    peak_rss_mib: float | None = None
    time_vs_tshark: float | None = None
    time_vs_classic: float | None = None
    rss_vs_tshark: float | None = None
    rss_vs_classic: float | None = None


def run_child(tool: Tool, stdout_path: Path, timeout: float) -> tuple[Run, str]:
    """Run one child via measure_child.py; return its measurements and last stderr line."""
    with (
        open(stdout_path, "wb") as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as result,
    ):
        launcher = [sys.executable, "-I", "-S", str(MEASURE_CHILD), result.name, *tool.argv]
        proc = subprocess.Popen(
            launcher,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=REPO_ROOT,
            env=tool.env,
            start_new_session=True,  # own process group, so a timeout kills the tool too
        )
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.terminate()  # the launcher kills and reaps the tool
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        err.seek(0)
        lines = [line.strip() for line in err.read().decode(errors="replace").splitlines() if line.strip()]
        fields = result.read().split()
    last = lines[-1] if lines else ""
    if timed_out:
        return Run(timeout, 0.0, 0.0, -9), f"killed after the {timeout:.0f} s timeout"
    if len(fields) != 4:
        return Run(0.0, 0.0, 0.0, proc.returncode or 1), last or "measure_child.py wrote no result"
    seconds, cpu, maxrss_kib, code = fields
    return Run(float(seconds), float(cpu), int(maxrss_kib) / 1024, int(code)), last


def package_env(**extra: str) -> dict[str, str]:
    """The environment for a run of this repository's package: its root first on PYTHONPATH."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


def build_tools(capture: Path, include_module: bool, packets: bool = False) -> list[Tool]:
    tshark = shutil.which("tshark")
    py_env = package_env()
    cap = str(capture)
    tools = [
        Tool(
            TSHARK_NAME,
            [tshark or "tshark", "-q", "-z", "conv,tcp", "-r", cap],
            missing=None if tshark else "tshark not found on PATH",
        ),
        Tool(
            CLASSIC_NAME,
            [str(CLASSIC_TCPTRACE), "-l", "-n", cap],
            missing=None if os.access(CLASSIC_TCPTRACE, os.X_OK) else f"{CLASSIC_TCPTRACE} not found",
        ),
        Tool(BARE_NAME, [sys.executable, str(PCAP_LOOP), cap]),
    ]
    if include_module:
        ref_env = package_env(TCPTRACE_ENGINE="python")
        tools += [
            Tool("tcptrace.flow.track_capture", [sys.executable, "-c", TRACK_SNIPPET, cap], env=py_env),
            Tool(FLOWS_TABLE_NAME, [sys.executable, "-m", "tcptrace", "flows", cap], env=py_env),
            Tool(FLOWS_JSON_NAME, [sys.executable, "-m", "tcptrace", "flows", cap, "--format", "json"], env=py_env),
            Tool(
                "flows json, Python engine",
                [sys.executable, "-m", "tcptrace", "flows", cap, "--format", "json"],
                env=ref_env,
            ),
        ]
    if packets:
        fields = [arg for name in TSHARK_FIELDS for arg in ("-e", name)]
        tools.append(
            Tool(
                TSHARK_FIELDS_NAME,
                [tshark or "tshark", "-r", cap, "-T", "fields", *fields],
                missing=None if tshark else "tshark not found on PATH",
            )
        )
        if include_module:
            for fmt_name in ("jsonl", "csv", "table"):
                argv = [sys.executable, "-m", "tcptrace", "packets", cap, "--format", fmt_name]
                tools.append(Tool(f"tcptrace packets {fmt_name}", argv, env=py_env))
            tools.append(
                Tool(
                    "packets jsonl, Python engine",
                    [sys.executable, "-m", "tcptrace", "packets", cap, "--format", "jsonl"],
                    env=ref_env,
                )
            )
    return tools


def engine_in_use() -> str:
    """Which per-packet engine the package under test uses (the C one needs `python setup.py build_ext
    --inplace` or a pip install with a compiler)."""
    env = package_env()
    code = "import tcptrace.engine as s; m = s.engine_module(); print(m.__file__ if m else 'none')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    where = out.stdout.strip()
    if out.returncode or not where:
        return "unknown (" + (out.stderr.strip().splitlines() or ["no output"])[-1] + ")"
    return "pure Python (C engine not built)" if where == "none" else f"C ({where})"


def ensure_capture(arg: str | None) -> Path:
    if arg is not None:
        path = Path(arg)
        if not path.is_file():
            sys.exit(f"bench: capture {path} does not exist")
        return path
    if DEFAULT_CAPTURE.is_file():
        return DEFAULT_CAPTURE
    if os.geteuid() != 0:
        sys.exit(
            f"bench: {DEFAULT_CAPTURE} is missing and recording it needs root:\n"
            f"  sudo bash {RECORD_SCRIPT} {DEFAULT_CAPTURE}"
        )
    print(f"bench: recording {DEFAULT_CAPTURE} with {RECORD_SCRIPT.name} ...", file=sys.stderr)
    subprocess.run(["bash", str(RECORD_SCRIPT), str(DEFAULT_CAPTURE)], check=True)
    return DEFAULT_CAPTURE


def first_line(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout + done.stderr).strip()
    return text.splitlines()[0] if text else None


def parse_facts(name: str, output: str, facts: dict[str, Any]) -> None:
    """Pull capture facts out of a tool's standard output."""
    if name == BARE_NAME:
        facts.update(json.loads(output))
    elif name == TSHARK_NAME:
        facts["connections_tshark"] = sum(1 for line in output.splitlines() if "<->" in line)
    elif name == CLASSIC_NAME:
        if m := re.search(r"^(\d+) TCP connections traced", output, re.M):
            facts["connections_classic_tcptrace"] = int(m.group(1))
        if m := re.search(r"^(\d+) packets seen, (\d+) TCP packets traced", output, re.M):
            facts["packets_classic_tcptrace"] = int(m.group(1))


def ratio(value: float | None, reference: float | None) -> float | None:
    return value / reference if value is not None and reference else None


def summarise(results: list[ToolResult], packets: int | None) -> None:
    for res in results:
        if res.status != "ok" or not res.runs:
            continue
        times = [run.seconds for run in res.runs]
        best = min(res.runs, key=lambda run: run.seconds)
        res.best_seconds = best.seconds
        res.median_seconds = statistics.median(times)
        res.cpu_seconds = best.cpu_seconds
        res.peak_rss_mib = max(run.peak_rss_mib for run in res.runs)
        res.packets_per_second = packets / best.seconds if packets else None
    refs = {r.name: r for r in results if r.status == "ok"}
    tshark, classic = refs.get(TSHARK_NAME), refs.get(CLASSIC_NAME)
    for res in results:
        if res.status != "ok":
            continue
        res.time_vs_tshark = ratio(res.best_seconds, tshark.best_seconds if tshark else None)
        res.time_vs_classic = ratio(res.best_seconds, classic.best_seconds if classic else None)
        res.rss_vs_tshark = ratio(res.peak_rss_mib, tshark.peak_rss_mib if tshark else None)
        res.rss_vs_classic = ratio(res.peak_rss_mib, classic.peak_rss_mib if classic else None)


def benchmark(tools: list[Tool], repeat: int, timeout: float, facts: dict[str, Any]) -> list[ToolResult]:
    results = {t.name: ToolResult(t.name, t.argv) for t in tools}
    for tool in tools:
        if tool.missing:
            results[tool.name].status, results[tool.name].error = "unavailable", tool.missing
    with tempfile.TemporaryDirectory(prefix="tcptrace-bench-") as tmp:
        for round_no in range(repeat):
            for index, tool in enumerate(tools):
                res = results[tool.name]
                if res.status != "ok":
                    continue
                out = Path(tmp) / f"tool{index}.out"
                print(f"bench: round {round_no + 1}/{repeat}: {tool.name}", file=sys.stderr, flush=True)
                try:
                    run, err_line = run_child(tool, out, timeout)
                except OSError as exc:
                    res.status, res.error = "unavailable", str(exc)
                    continue
                if run.exit_code != 0:
                    res.status = "unavailable"
                    res.error = f"exit {run.exit_code}: {err_line or 'no error output'}"
                    continue
                res.runs.append(run)
                if round_no == 0:
                    output = out.read_text(errors="replace")
                    res.stdout_head = output[:300]
                    parse_facts(tool.name, output, facts)
    return list(results.values())


def fmt(value: float | None, width: int, spec: str) -> str:
    return ("-" if value is None else format(value, spec)).rjust(width)


def print_table(capture: dict[str, Any], results: list[ToolResult], env: dict[str, Any], repeat: int) -> None:
    size = capture["file_bytes"]
    print(f"capture      {capture['path']}")
    print(f"  file size  {size / 1e6:.1f} MB ({size:,} bytes), snaplen {capture.get('snaplen', '?')}")
    if "packets" in capture:
        span = capture["last_ts"] - capture["first_ts"]
        print(f"  packets    {capture['packets']:,} (pcap records), {span:.1f} s of traffic")
    conns = [
        f"{capture[key]:,} per {label}"
        for key, label in (
            ("connections_tshark", "tshark"),
            ("connections_classic_tcptrace", "classic tcptrace"),
        )
        if key in capture
    ]
    if conns:
        print(f"  TCP conns  {', '.join(conns)}")
    print(f"host         {env['platform']}, {env['cpus']} CPUs, Python {env['python']}")
    print(f"runs         best wall time of {repeat}; peak RSS = max over runs; ratios are tool / reference")
    print(f"bytecode     {env.get('bytecode', '?')}\n")
    header = (
        f"{'tool':<30} {'best s':>8} {'median s':>9} {'cpu s':>7} {'packets/s':>11} {'RSS MiB':>8} "
        f"{'t/tshark':>9} {'t/classic':>9} {'rss/tshark':>10} {'rss/classic':>11}"
    )
    print(header)
    print("-" * len(header))
    for res in results:
        if res.status != "ok":
            print(f"{res.name:<30} unavailable: {res.error}")
            continue
        print(
            f"{res.name:<30} {fmt(res.best_seconds, 8, '.3f')} {fmt(res.median_seconds, 9, '.3f')} "
            f"{fmt(res.cpu_seconds, 7, '.2f')} {fmt(res.packets_per_second, 11, ',.0f')} "
            f"{fmt(res.peak_rss_mib, 8, '.1f')} {fmt(res.time_vs_tshark, 9, '.2f')} "
            f"{fmt(res.time_vs_classic, 9, '.2f')} {fmt(res.rss_vs_tshark, 10, '.2f')} "
            f"{fmt(res.rss_vs_classic, 11, '.2f')}"
        )
    print()
    print(f"engine       {env.get('engine')}")
    for res in results:
        if res.name not in (FLOWS_TABLE_NAME, FLOWS_JSON_NAME) or res.status != "ok":
            continue
        vs_t, vs_c = res.time_vs_tshark, res.time_vs_classic
        if vs_t is None or vs_c is None:
            print(f"target       {res.name}: tshark or classic tcptrace missing, no verdict")
            continue
        ok = vs_t <= TARGET_VS_TSHARK and vs_c <= TARGET_VS_CLASSIC and (res.peak_rss_mib or 0) < 200
        print(
            f"target       {res.name}: {1 / vs_t:.1f}x faster than tshark (target 5x), {vs_c:.2f}x classic "
            f"tcptrace's time (target <= 2x), {res.peak_rss_mib:.0f} MiB (target < 200): {'MET' if ok else 'NOT MET'}"
        )
    by_name = {r.name: r for r in results if r.status == "ok"}
    fields, jsonl = by_name.get(TSHARK_FIELDS_NAME), by_name.get(PACKETS_JSONL_NAME)
    if fields and jsonl and fields.median_seconds and jsonl.median_seconds:
        vs = jsonl.median_seconds / fields.median_seconds
        print(
            f"target       {PACKETS_JSONL_NAME}: {1 / vs:.1f}x faster than {TSHARK_FIELDS_NAME} (medians; target 5x), "
            f"{jsonl.peak_rss_mib:.0f} MiB: {'MET' if vs <= TARGET_PACKETS_VS_TSHARK_FIELDS else 'NOT MET'}"
        )


def ensure_bytecode() -> str:
    """Compile the tcptrace package's modules to bytecode (as `pip install` does), so start-up is measured as
    users see it; returns what was done."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("tcptrace")
    if spec is None or not spec.submodule_search_locations:
        return "tcptrace not importable"
    where = next(iter(spec.submodule_search_locations))
    ok = compileall.compile_dir(where, quiet=1)
    return f"compiled ({where})" if ok else f"compileall failed in {where}"


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("capture", nargs="?", help=f"classic pcap file (default {DEFAULT_CAPTURE})")
    parser.add_argument("-n", "--repeat", type=int, default=3, help="runs per tool; the best is kept (3)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a run is killed (900)")
    parser.add_argument("--json", action="store_true", help="print JSON results instead of a table")
    parser.add_argument("--no-tcptrace", action="store_true", help="only the reference tools")
    parser.add_argument("--packets", action="store_true", help="also `packets` and tshark's per-packet fields")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    capture_path = ensure_capture(args.capture)
    capture: dict[str, Any] = {"path": str(capture_path), "file_bytes": capture_path.stat().st_size}
    env = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tshark": first_line(["tshark", "--version"]) if shutil.which("tshark") else None,
        "classic_tcptrace": first_line([str(CLASSIC_TCPTRACE), "-v"]) if CLASSIC_TCPTRACE.exists() else None,
        "engine": engine_in_use(),
    }
    # An installed package runs from bytecode pip compiled at install time; a development checkout run with
    # PYTHONDONTWRITEBYTECODE=1 (as some sandboxes set) would otherwise compile every module on every start.
    env["bytecode"] = ensure_bytecode()
    # Read the file once so every tool starts from a warm page cache.
    with open(capture_path, "rb") as fh:
        while fh.read(16 * 1024 * 1024):
            pass

    tools = build_tools(capture_path, include_module=not args.no_tcptrace, packets=args.packets)
    results = benchmark(tools, args.repeat, args.timeout, capture)
    summarise(results, capture.get("packets"))

    if args.json:
        payload = {
            "capture": capture,
            "environment": env,
            "repeat": args.repeat,
            "tools": [asdict(res) for res in results],
        }
        print(json.dumps(payload, indent=2))
    else:
        print_table(capture, results, env, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
