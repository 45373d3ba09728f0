"""Time drawing the ladder diagram of one big flow (target: under 5 s for a ~2,000-packet flow).

    python benchmarks/bench_diagram.py [CAPTURE] [--stream N] [--repeat 3] [--dpi 150] [--format png]

Without CAPTURE, /tmp/tcptrace-bench.pcap (recorded by benchmarks/record_bench_capture.sh) is used if present,
else sample_pcaps/lossy_bulk.pcap. Without --stream, the stream with the most packets is drawn. Reading and
analysing the capture is not timed (benchmarks/bench.py measures that); what is timed, best of --repeat runs, is
what `tcptrace diagram` adds: building the ladder (collapsing, layout) and writing the image to a temporary file.
The font cache is warmed by one untimed run first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tcptrace.diagram import save_ladder  # noqa: E402
from tcptrace.engine import Pipeline, summarize  # noqa: E402
from tcptrace.ladder import Ladder, build_ladder  # noqa: E402
from tcptrace.stats import FlowSummary  # noqa: E402

DEFAULT_CAPTURE = Path("/tmp/tcptrace-bench.pcap")
FALLBACK_CAPTURE = REPO_ROOT / "sample_pcaps" / "lossy_bulk.pcap"
TARGET_SECONDS = 5.0


def load_stream(capture: Path, stream: int | None) -> tuple[FlowSummary, list, int]:  # type: ignore[type-arg]
    """The summary and segments of ``stream`` (default: the one with the most packets)."""
    if stream is None:  # the busiest stream, found in a first pass that keeps no segments
        summaries, _ = summarize(capture)
        biggest = max(summaries, key=lambda s: s.dirs[0].packets + s.dirs[1].packets)
        stream = biggest.flow.stream
    run = Pipeline(capture)
    segs = [s for s in run if s.stream == stream]  # only this stream's segments are kept in memory
    summary = next(x for x in run.summaries if x.flow.stream == stream)
    return summary, segs, stream


def render_once(
    summary: FlowSummary,
    segs: list,
    out: Path,
    dpi: float,
    collapse: bool,  # type: ignore[type-arg]
) -> tuple[float, float, Ladder]:
    t0 = time.perf_counter()
    ladder = build_ladder(summary, segs, collapse=collapse)
    t1 = time.perf_counter()
    save_ladder(ladder, out, dpi=dpi)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, ladder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", nargs="?", type=Path)
    ap.add_argument("--stream", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dpi", type=float, default=150)
    ap.add_argument("--format", choices=("png", "svg", "pdf"), default="png")
    ap.add_argument("--no-collapse", action="store_true", help="one arrow per packet (too tall for PNG: use svg)")
    args = ap.parse_args(argv)
    capture = args.capture or (DEFAULT_CAPTURE if DEFAULT_CAPTURE.exists() else FALLBACK_CAPTURE)

    t = time.perf_counter()
    summary, segs, stream = load_stream(capture, args.stream)
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"ladder.{args.format}"
        render_once(summary, segs, out, args.dpi, not args.no_collapse)  # warm-up: font cache, lazy matplotlib imports
        runs = [render_once(summary, segs, out, args.dpi, not args.no_collapse) for _ in range(max(1, args.repeat))]
        size = out.stat().st_size
    build_s = min(r[0] for r in runs)
    save_s = min(r[1] for r in runs)
    total_s = min(r[0] + r[1] for r in runs)
    ladder = runs[0][2]
    print(f"capture: {capture} (read and analysed in {load_s:.1f} s, not timed)")
    print(f"stream {stream}: {len(segs):,} packets -> {len(ladder.arrows)} arrows, {len(ladder.collapsed)} collapsed "
          f"blocks, {ladder.height:.0f} rows")  # fmt: skip
    print(f"build_ladder: {build_s:.3f} s")
    print(f"save_ladder ({args.format}, {args.dpi:g} dpi, {size / 1024:.0f} KiB): {save_s:.3f} s")
    verdict = "ok" if total_s < TARGET_SECONDS else "SLOWER THAN TARGET"
    print(f"total: {total_s:.3f} s (best of {len(runs)}; target < {TARGET_SECONDS:g} s: {verdict})")
    return 0 if total_s < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
