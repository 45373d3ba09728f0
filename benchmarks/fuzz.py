"""Long-run fuzzing of both engines (issue #13): millions of hostile mutants, each in a worker subprocess.

    python benchmarks/fuzz.py --seconds 900 --jobs 1            # a quarter of an hour on one core
    python benchmarks/fuzz.py --count 1000000 --jobs 2 --out /tmp/fuzz-out
    python benchmarks/fuzz.py --replay 'echo_ipv4.pcap#1234'     # one mutant again, in this process

Theory of operation. Mutant ``i`` is mutant number ``base + i // len(seeds)`` of seed ``i % len(seeds)``
(tests/fuzzing.py; seeds: sample_pcaps/ and the corpus captures of at most --corpus-max-bytes), the same bytes
on every machine. The parent hands out numbers ``i`` to ``--jobs`` worker processes over a pipe; a worker
builds the mutant, writes it to a file, reads it with both engines (TCPTRACE_ENGINE=python and =c, in-process,
tcptrace.engine.summarize) and, every --render-every inputs, through every renderer on the Python results, and
answers with one JSON line: the verdict (tests/fuzzing.py judge_engines / judge_renderers / judge_ladders, the
C engine's one-stream ladders against the Python reference's), the seconds it took
and its peak RSS so far (resource.getrusage). A worker that dies (a crash in the C engine: a signal) or does
not answer within --timeout is recorded with the input it was given and started again; one whose peak RSS
passed --big-mb is restarted, so the next input starts measured from a fresh process.

Outcomes: ``ok`` (both engines agree), ``error`` (both refused with the same TcptraceError), ``divergence``,
``exception`` (anything other than a TcptraceError), ``signal``, ``timeout``; and the flags ``slow`` (over
--slow seconds) and ``big`` (peak RSS over --big-mb). Each failure class (its signature: the exception type and
the innermost tcptrace frame, the first field that differs, the signal) keeps one reproducer under --out: the
mutant's bytes and a .txt saying how it was made and what happened; a later reproducer of the same class
replaces it when it took fewer mutations, or as many on fewer bytes. ``summary.json`` there has the counts.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/fuzzing.py

import fuzzing as fz  # noqa: E402


def load_seeds(args: argparse.Namespace) -> list[fz.Seed]:
    seeds = fz.sample_seeds(ROOT / "sample_pcaps")
    if args.corpus_max_bytes > 0:
        seeds += fz.corpus_seeds(Path(args.corpus), args.corpus_max_bytes)
    return seeds


def mutant_at(seeds: list[fz.Seed], i: int, base: int) -> fz.Mutant:
    return fz.mutant(seeds[i % len(seeds)], base + i // len(seeds))


def by_name(seeds: list[fz.Seed], name: str) -> fz.Mutant:
    seed, number = name.rsplit("#", 1)
    for s in seeds:
        if s.name == seed:
            return fz.mutant(s, int(number))
    raise SystemExit(f"no seed named {seed!r} (is the corpus where --corpus says?)")


# --- the worker ------------------------------------------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    """Read input numbers from stdin, one a line; answer each with one JSON line on stdout."""
    import faulthandler
    import warnings

    faulthandler.enable(sys.stderr)  # a crash in C prints the Python stack that led there
    warnings.simplefilter("error")  # as pytest runs the tests (filterwarnings = error)
    if args.mem_limit_mb:
        limit = args.mem_limit_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    seeds = load_seeds(args)
    c_engine = _engine_built()
    path = Path(args.tmp or tempfile.mkdtemp(prefix="tcptrace-fuzz-")) / "mutant"
    out = sys.stdout
    try:
        for line in sys.stdin:
            i = int(line)
            if args.self_test and i == int(args.self_test.split(":")[1]):  # the harness sees crashes and hangs
                import ctypes

                if args.self_test.startswith("crash"):
                    ctypes.string_at(0)
                time.sleep(1e6)
            m = mutant_at(seeds, i, args.base)
            path.write_bytes(m.data)
            t0 = time.perf_counter()
            v = fz.judge_engines(str(path), c_engine=c_engine)
            if not v.failed and args.render_every and i % args.render_every == 0:
                r = fz.judge_renderers(str(path))
                if not r.failed and c_engine:
                    r = fz.judge_ladders(str(path))
                if r.failed:
                    v = r
            seconds = time.perf_counter() - t0
            rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            answer = {"i": i, "outcome": v.outcome, "signature": v.signature, "detail": v.detail}
            answer.update(seconds=round(seconds, 4), rss_kb=rss_kb)
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()


def _engine_built() -> bool:
    try:
        from tcptrace import _engine  # noqa: F401
    except ImportError:
        return False
    return True


# --- the parent --------------------------------------------------------------------------------------------------


class Worker:
    """One worker process: its pipes, its stderr file (faulthandler's report lands there), and a kill timer."""

    def __init__(self, args: argparse.Namespace, lane: int, out: Path) -> None:
        self.err_path = out / f".worker{lane}.stderr"
        self.tmp = out / f".worker{lane}"  # the mutant's file; removed by stop(), also after a crash
        self.tmp.mkdir(exist_ok=True)
        cmd = [sys.executable, __file__, "--worker", f"--tmp={self.tmp}", *args.worker_args]
        self.err: IO[bytes] = open(self.err_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # its own session: Ctrl-C stops the parent, which stops the workers
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True, start_new_session=True
        )
        self.timed_out = False

    def ask(self, i: int, timeout: float) -> dict[str, Any] | None:
        """The worker's answer for input ``i``, or None when it died or was killed for taking too long."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        timer = threading.Timer(timeout, self._kill)
        timer.start()
        try:
            self.proc.stdin.write(f"{i}\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        finally:
            timer.cancel()
        return json.loads(line) if line else None

    def _kill(self) -> None:
        self.timed_out = True
        self.proc.kill()

    def stderr_tail(self) -> str:
        self.err.flush()
        try:
            return self.err_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        rc = self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.err.close()
        self.err_path.unlink(missing_ok=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


def _crash_place(stderr: str) -> str:
    """Where faulthandler's report says the crash happened: the innermost tcptrace frame, else the innermost."""
    frames = []
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith('File "') and " line " in line:
            path, rest = line.split('"')[1], line.split('"')[2]  # rest: ' line N in func'
            lineno = rest.split(" line ")[1].split(" ")[0]
            short = "tcptrace/" + path.rsplit("/tcptrace/", 1)[1] if "/tcptrace/" in path else path.rsplit("/", 1)[-1]
            frames.append((("/tcptrace/" in path and "/tests/" not in path), f"{short}:{lineno}"))
    ours = [f for is_ours, f in frames if is_ours]
    return (ours or [f for _, f in frames] or ["?"])[0]


class Run:
    """The counts, the reproducers and the work queue, shared by the lanes (one thread per worker)."""

    def __init__(self, args: argparse.Namespace, seeds: list[fz.Seed]) -> None:
        self.args = args
        self.seeds = seeds
        self.out = Path(args.out)
        self.lock = threading.Lock()
        self.next_i: int = args.start
        self.done = 0
        self.outcomes: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()
        self.classes: dict[str, dict[str, Any]] = {}  # signature -> count, reproducer, description
        self.max_rss_kb = 0
        self.max_seconds = 0.0
        self.slowest = ""
        self.t0 = time.monotonic()
        self.deadline = self.t0 + args.seconds if args.seconds else None
        self.stopping = False

    def take(self) -> int | None:
        with self.lock:
            if self.stopping or (self.args.count and self.next_i - self.args.start >= self.args.count):
                return None
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return None
            i = self.next_i
            self.next_i += 1
            return i

    def record(self, i: int, outcome: str, signature: str, detail: str, seconds: float, rss_kb: int) -> None:
        kind = outcome
        if outcome == "exception":
            kind = "exception " + signature.split(": ", 1)[1].split(" ")[0]  # the exception's type
        elif outcome == "signal":
            kind = "signal " + signature.split(" ")[0]
        flags = []  # (a timeout is slow by definition: not flagged twice)
        if seconds > self.args.slow and outcome != "timeout":
            flags.append("slow")
        if rss_kb > self.args.big_mb * 1024:
            flags.append("big")
        with self.lock:
            self.done += 1
            self.outcomes[kind] += 1
            self.flags.update(flags)
            if rss_kb > self.max_rss_kb:
                self.max_rss_kb = rss_kb
            if seconds > self.max_seconds:
                self.max_seconds, self.slowest = seconds, mutant_at(self.seeds, i, self.args.base).name
        failures = []
        if outcome in ("divergence", "exception", "signal", "timeout"):
            failures.append((f"{outcome}: {signature}", detail))
        if flags:
            made_by = "+".join(sorted({op.split("(")[0] for op in mutant_at(self.seeds, i, self.args.base).ops}))
            failures += [(f"{flag}: {made_by}", f"{seconds:.3f} s, peak RSS {rss_kb >> 10} MB") for flag in flags]
        for sig, det in failures:
            self._save(i, sig, det, seconds, rss_kb)

    def _save(self, i: int, signature: str, detail: str, seconds: float, rss_kb: int) -> None:
        m = mutant_at(self.seeds, i, self.args.base)
        with self.lock:
            c = self.classes.get(signature)
            better = c is None or (len(m.ops), len(m.data)) < (len(c["ops"]), c["bytes"])
            if c is None:
                c = self.classes[signature] = {"count": 0}
            c["count"] += 1
            if not better:
                return
            digest = hashlib.sha1(signature.encode()).hexdigest()[:12]
            kind = signature.split(":")[0]
            base = self.out / kind.replace(" ", "_") / digest
            c.update(name=m.name, ops=list(m.ops), bytes=len(m.data), file=str(base) + ".pcap")
            c.update(first_line=detail.splitlines()[0] if detail else "")
        base.parent.mkdir(parents=True, exist_ok=True)
        base.with_suffix(".pcap").write_bytes(m.data)
        text = [
            f"signature: {signature}",
            f"mutant:    {m.name}   (python benchmarks/fuzz.py --replay '{m.name}')",
            f"input:     {i} (--base {self.args.base})",
            "made by:   " + "\n           ".join(m.ops),
            f"size:      {len(m.data)} bytes",
            f"seconds:   {seconds:.3f}",
            f"peak RSS:  {rss_kb / 1024:.0f} MB",
            "",
            detail,
        ]
        base.with_suffix(".txt").write_text("\n".join(text) + "\n")

    def summary(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.t0
        return {
            "inputs": self.done,
            "seconds": round(elapsed, 1),
            "per_second": round(self.done / elapsed, 1) if elapsed else 0,
            "outcomes": dict(self.outcomes.most_common()),
            "flags": dict(self.flags),
            "max_rss_mb": round(self.max_rss_kb / 1024, 1),
            "max_seconds": round(self.max_seconds, 3),
            "slowest": self.slowest,
            "classes": {k: self.classes[k] for k in sorted(self.classes)},
            "seeds": len(self.seeds),
            "base": self.args.base,
        }

    def write_summary(self) -> None:
        with self.lock:
            doc = self.summary()
        (self.out / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")


def lane(run: Run, n: int) -> None:
    args = run.args
    w = Worker(args, n, run.out)
    try:
        while (i := run.take()) is not None:
            answer = w.ask(i, args.timeout)
            if answer is None:  # the worker died on this input, or was killed for taking too long
                timed_out = w.timed_out
                stderr = w.stderr_tail()
                rc = w.stop()
                if timed_out:
                    run.record(i, "timeout", f"no answer after {args.timeout:.0f} s", stderr, args.timeout, 0)
                elif rc < 0:
                    name = signal.Signals(-rc).name if -rc in signal.valid_signals() else str(-rc)
                    run.record(i, "signal", f"{name} at {_crash_place(stderr)}", stderr, 0.0, _children_rss())
                else:
                    run.record(i, "signal", f"exit-status-{rc} (no signal)", stderr, 0.0, _children_rss())
                w = Worker(args, n, run.out)
                continue
            run.record(i, answer["outcome"], answer["signature"], answer["detail"], answer["seconds"], answer["rss_kb"])
            if answer["rss_kb"] > args.big_mb * 1024:  # measure the next input from a fresh process
                w.stop()
                w = Worker(args, n, run.out)
    finally:
        w.stop()


def _children_rss() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def report(run: Run) -> None:
    doc = run.summary()
    print(
        f"\n{doc['inputs']:,} inputs in {doc['seconds']:,.0f} s ({doc['per_second']}/s), {len(run.seeds)} seeds, "
        f"peak worker RSS {doc['max_rss_mb']} MB, slowest input {doc['max_seconds']} s ({doc['slowest']})"
    )
    print("outcomes:")
    for k, v in doc["outcomes"].items():
        print(f"  {v:>10,}  {k}")
    for k, v in doc["flags"].items():
        print(f"  {v:>10,}  {k} (flag)")
    if doc["classes"]:
        print(f"failure classes ({len(doc['classes'])}), one reproducer each under {run.out}:")
        for sig, c in doc["classes"].items():
            print(f"  {c['count']:>8,}  {sig}\n            {c['name']}: {'; '.join(c['ops'])}\n            {c['file']}")


def progress(run: Run, stop: threading.Event) -> None:
    while not stop.wait(run.args.progress):
        with run.lock:
            done, failed = run.done, sum(c["count"] for c in run.classes.values())
            rate = done / max(time.monotonic() - run.t0, 1e-9)
        print(f"[fuzz] {done:,} inputs, {rate:.0f}/s, {failed} failing, {len(run.classes)} classes", file=sys.stderr)
        run.write_summary()


def replay(args: argparse.Namespace, seeds: list[fz.Seed]) -> None:
    import warnings

    warnings.simplefilter("error")
    with tempfile.TemporaryDirectory() as d:
        for name in args.replay:
            m = by_name(seeds, name)
            path = Path(d) / "mutant"
            path.write_bytes(m.data)
            if args.save:
                Path(args.save).write_bytes(m.data)
            print(f"{m.name}: {'; '.join(m.ops)} ({len(m.data)} bytes)")
            built = _engine_built()
            ladders = [fz.judge_ladders(str(path))] if built else []
            for v in (fz.judge_engines(str(path), c_engine=built), fz.judge_renderers(str(path)), *ladders):
                print(f"  {v.outcome}: {v.signature}")
                if v.failed:
                    print("    " + v.detail.replace("\n", "\n    "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--count", type=int, default=0, help="stop after N inputs (0: no limit)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after S seconds (0: no limit)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--out", default="fuzz-out", help="reproducers and summary.json go here")
    ap.add_argument("--base", type=int, default=1000, help="first mutant number of each seed (the CI test uses 0..)")
    ap.add_argument("--start", type=int, default=0, help="first input index (to resume a run)")
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    ap.add_argument("--corpus-max-bytes", type=int, default=64 * 1024, help="corpus seeds up to this size (0: none)")
    ap.add_argument("--render-every", type=int, default=4, help="renderers on every K-th input (0: never)")
    ap.add_argument("--slow", type=float, default=2.0, help="flag inputs taking longer (seconds)")
    ap.add_argument("--big-mb", type=int, default=500, help="flag inputs taking a worker's peak RSS past this")
    ap.add_argument("--mem-limit-mb", type=int, default=4096, help="a worker's address-space limit (0: none)")
    ap.add_argument("--timeout", type=float, default=60.0, help="kill a worker stuck this long on one input")
    ap.add_argument("--progress", type=float, default=30.0, help="a progress line on stderr every S seconds")
    ap.add_argument("--replay", nargs="+", metavar="SEED#N", help="run these mutants in this process and stop")
    ap.add_argument("--save", help="with --replay: write the mutant's bytes here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)  # a worker's directory for the mutant's file
    ap.add_argument("--self-test", metavar="crash:I|hang:I", help="a worker segfaults or hangs on input I")
    args = ap.parse_args()
    args.worker_args = [
        f"--base={args.base}",
        f"--corpus={args.corpus}",
        f"--corpus-max-bytes={args.corpus_max_bytes}",
        f"--render-every={args.render_every}",
        f"--mem-limit-mb={args.mem_limit_mb}",
        f"--self-test={args.self_test or ''}",
    ]
    if args.worker:
        worker(args)
        return
    seeds = load_seeds(args)
    if args.replay:
        replay(args, seeds)
        return
    if not args.count and not args.seconds:
        ap.error("give --count or --seconds (or both)")
    run = Run(args, seeds)
    run.out.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    ticker = threading.Thread(target=progress, args=(run, stop), daemon=True)
    ticker.start()
    lanes = [threading.Thread(target=lane, args=(run, n)) for n in range(args.jobs)]
    for t in lanes:
        t.start()
    try:
        for t in lanes:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        run.stopping = True
        for t in lanes:
            t.join()
    stop.set()
    run.write_summary()
    report(run)


if __name__ == "__main__":
    main()
