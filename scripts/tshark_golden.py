#!/usr/bin/env python3
"""Write tshark's per-packet view of TCP packets as a TSV "golden" file.

Usage:
    scripts/tshark_golden.py [--out-dir DIR] [CAPTURE ...]

With no CAPTURE arguments, every capture (*.pcap, *.pcapng, *.cap, *.dmp,
*.pcap.gz, *.pcapng.gz) directly in sample_pcaps/ is processed. Each output
goes to DIR/<capture file name>.tsv (DIR defaults to sample_pcaps/tshark/).

The format is exactly the one of the corpus oracle files in
shared/corpus/oracle/*.tsv (TShark 4.0.17), so the same comparison code can
read both:

    frame<TAB>stream<TAB>seq<TAB>ack<TAB>len<TAB>win<TAB>flags<TAB>analysis

* one row per packet matched by the display filter ``tcp`` (default
  single-pass analysis, i.e. no ``-2``);
* frame = frame.number, stream = tcp.stream, seq/ack = tcp.seq/tcp.ack
  (relative, tshark's default), len = tcp.len, win = tcp.window_size (the
  scaled window), flags = tcp.flags as tshark prints it (``0x0012``);
* a field tshark does not have for that packet is an empty string (e.g. the
  TCP header quoted in an ICMP error has no tcp.len);
* analysis = comma-separated names of the tcp.analysis.* flags present, in
  the fixed order of ANALYSIS_FLAGS below (no spaces; empty if none);
* "\n" line endings, header line first, a final newline.

This was checked byte-for-byte against the corpus oracle files (see the
sample_pcaps README for the exact files).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_pcaps"
DEFAULT_OUT = SAMPLES / "tshark"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dmp", ".pcap.gz", ".pcapng.gz")

HEADER = ["frame", "stream", "seq", "ack", "len", "win", "flags", "analysis"]

# Plain fields, in column order.
FIELDS = [
    "frame.number",
    "tcp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.len",
    "tcp.window_size",
    "tcp.flags",
]

# The tcp.analysis.* flags, in the order their names are joined in the
# "analysis" column. The order matters for byte-exact output: it is the order
# used by the oracle files (e.g. "retransmission,fast_retransmission",
# "lost_segment,reused_ports", "zero_window,zero_window_probe_ack").
# These are FT_NONE fields: with -T fields tshark prints "1" when present and
# nothing when absent.
ANALYSIS_FLAGS = [
    "retransmission",
    "fast_retransmission",
    "spurious_retransmission",
    "out_of_order",
    "lost_segment",
    "ack_lost_segment",
    "duplicate_ack",
    "window_update",
    "window_full",
    "zero_window",
    "zero_window_probe",
    "zero_window_probe_ack",
    "keep_alive",
    "keep_alive_ack",
    "reused_ports",
]


def tshark_rows(capture, tshark):
    """Run tshark once on `capture` and return (rows, stderr, returncode)."""
    cmd = [tshark, "-n", "-r", str(capture), "-Y", "tcp", "-T", "fields"]
    for field in FIELDS + ["tcp.analysis." + f for f in ANALYSIS_FLAGS]:
        cmd += ["-e", field]
    # An empty, private configuration directory: a user's Wireshark
    # preferences (relative sequence numbers, analysis options, heuristics,
    # "decode as") would otherwise change the output.
    with tempfile.TemporaryDirectory(prefix="tshark_golden_") as confdir:
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=confdir)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    rows = []
    for line in proc.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) != len(FIELDS) + len(ANALYSIS_FLAGS):
            raise SystemExit(f"{capture}: unexpected tshark line {line!r}")
        plain = cols[: len(FIELDS)]
        flags = cols[len(FIELDS) :]
        names = [name for name, val in zip(ANALYSIS_FLAGS, flags, strict=False) if val]
        rows.append([*plain, ",".join(names)])
    # tshark prints "Running as user root ..." on stderr; not an error.
    stderr = "\n".join(ln for ln in proc.stderr.splitlines() if not ln.startswith("Running as user"))
    return rows, stderr, proc.returncode


def default_captures():
    return sorted(p for p in SAMPLES.iterdir() if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("captures", nargs="*", type=Path, help="capture files (default: every capture in sample_pcaps/)")
    ap.add_argument(
        "--out-dir", type=Path, default=DEFAULT_OUT, help=f"where to write <capture name>.tsv (default: {DEFAULT_OUT})"
    )
    ap.add_argument("--tshark", default="tshark", help="tshark executable")
    args = ap.parse_args()

    tshark = shutil.which(args.tshark)
    if tshark is None:
        sys.exit(
            f"error: '{args.tshark}' not found. Install Wireshark's tshark "
            "(Debian: apt-get install tshark) to produce golden files."
        )
    version = subprocess.run([tshark, "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    if version and " 4.0." not in version[0]:
        # Analysis flags differ between Wireshark versions; the oracle is 4.0.17.
        print(f"warning: oracle files were made with TShark 4.0.17, this is {version[0]!r}", file=sys.stderr)

    captures = args.captures or default_captures()
    if not captures:
        sys.exit(f"error: no captures given and none found in {SAMPLES}")
    args.out_dir.mkdir(parents=True, exist_ok=True)

    failed = False
    for capture in captures:
        rows, stderr, rc = tshark_rows(capture, tshark)
        out = args.out_dir / (capture.name + ".tsv")
        with open(out, "w", newline="\n") as fh:
            fh.write("\t".join(HEADER) + "\n")
            for row in rows:
                fh.write("\t".join(row) + "\n")
        print(f"{out}: {len(rows)} TCP packets")
        if rc != 0:
            # tshark still printed what it could read before the error (e.g. a
            # capture cut mid-packet); the file keeps that, like the oracle.
            print(f"warning: tshark exited {rc} on {capture}: {stderr.strip()}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
