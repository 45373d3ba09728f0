"""Followed streams agree with Wireshark's: ``tshark -r CAP -q -z follow,tcp,raw,N`` on the samples and the corpus.

TShark's raw follow prints, per stream, "Node 0" (the sender of the stream's first packet) and "Node 1", then one
line of hex per chunk it appended, Node 1's indented by a tab. Its reassembly (packet-tcp.c
``follow_tcp_tap_listener``) differs from ours on purpose in a few places (docs/follow.md): it writes
"[n bytes missing in capture file]" into the stream where the receiver acknowledged data the capture lacks,
it keeps an RST's payload (so we reassemble with ``rst_payload=True`` here), it drops out-of-order data that
never became contiguous and data before the first segment it saw. So the comparison is: every byte both
streams have is equal (tshark's chunks laid out by position from its markers, except where we report copies
that differ), or, where tshark's start or markers do not line up with ours, each piece of tshark's stream between
its markers is in ours, in order: equal bytes wherever tshark's reassembly has no gap. On the corpus and the
samples (8 streams with payload a capture at most), 667 directions are byte-identical, 37 agree by position
around the gaps, 6 only in order (tshark anchored at a SYN whose ISN the data does not follow, or its markers do
not line up with a snap length), and 100 are empty in both.

Needs tshark (skipped with the reason when it is absent); ``../shared/corpus`` is used when present. At most
:data:`MAX_STREAMS` streams with payload per capture, the first ones, to bound the time (one tshark run per
capture, about a second each; its output is kept in pytest's cache directory, keyed by the capture's content, the
streams and tshark's version, so later runs read it back: ``pytest --cache-clear`` runs tshark again).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import CORPUS, SAMPLES

from tcptrace.follow import Chunk, FollowedStream, HalfStream

TSHARK = shutil.which("tshark")
MAX_STREAMS = 8
MISSING = re.compile(rb"^\[\d+ bytes missing in capture file\]\x00$")


@dataclass
class TsharkFollow:
    nodes: list[str] = field(default_factory=list)
    chunks: tuple[list[bytes], list[bytes]] = field(default_factory=lambda: ([], []))


def tshark_follow(capture: Path, streams: list[int], cache: Path | None = None) -> dict[int, TsharkFollow]:
    """Each stream's raw follow as tshark prints it: its two nodes and each node's chunks in order. With ``cache``
    (a directory), tshark's output is kept there under a name made of the capture's content, the streams and
    tshark's version, and read back instead of running tshark again."""
    assert TSHARK is not None
    args = [TSHARK, "-r", str(capture), "-q"]
    for n in streams:
        args += ["-z", f"follow,tcp,raw,{n}"]
    kept = None
    if cache is not None:
        key = hashlib.sha256(capture.read_bytes() + repr((streams, _tshark_version())).encode()).hexdigest()
        kept = cache / f"{key}.txt"
    if kept is not None and kept.is_file():
        out = kept.read_text()
    else:
        out = subprocess.run(args, capture_output=True, timeout=300, check=False).stdout.decode("ascii", "replace")
        if kept is not None and "Follow: tcp,raw" in out:
            kept.write_text(out)
    result: dict[int, TsharkFollow] = {}
    current: TsharkFollow | None = None
    for line in out.splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            current = result.setdefault(int(line.rsplit(" ", 1)[1]), TsharkFollow())
        elif current is None or not line.strip() or line.startswith(("=", "Follow:")):
            continue
        elif line.startswith("Node "):
            current.nodes.append(line.split(": ", 1)[1])
        else:
            current.chunks[line.startswith("\t")].append(bytes.fromhex(line.strip()))
    return result


def _cache_dir(request: pytest.FixtureRequest) -> Path | None:
    """pytest's cache directory for tshark's output, or None when the cache plugin is off (``-p no:cacheprovider``,
    as .ci/sdist runs the suite): then tshark runs every time."""
    cache = getattr(request.config, "cache", None)
    return None if cache is None else cache.mkdir("tshark-follow")


@functools.cache
def _tshark_version() -> str:
    assert TSHARK is not None
    return subprocess.run([TSHARK, "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]


def disagreement(ours: HalfStream, theirs: list[bytes]) -> str | None:
    """Why our half stream disagrees with tshark's chunks for the same sender, or None: the bytes must agree laid
    out by position (:func:`by_position`) or, failing that, tshark's pieces between its markers must each be in our
    bytes, in order (:func:`in_order`; where tshark's start or markers do not line up with ours, e.g. a SYN whose
    sequence number the data does not follow)."""
    problem = by_position(ours, theirs)
    if problem is None or in_order(ours, theirs) is None:
        return None
    return problem


def in_order(ours: HalfStream, theirs: list[bytes]) -> str | None:
    data = ours.data
    pieces: list[bytes] = [b""]
    for chunk in theirs:
        if MISSING.match(chunk):
            pieces.append(b"")
        else:
            pieces[-1] += chunk
    pos = 0
    for piece in pieces:
        if piece:
            k = data.find(piece, pos)
            if k < 0:
                return f"{ours.direction}: tshark's {len(piece)} bytes after byte {pos} are not in ours"
            pos = k + len(piece)
    return None


def by_position(ours: HalfStream, theirs: list[bytes]) -> str | None:
    """TShark's chunks are laid out from its start: each chunk's bytes, each "[n bytes missing]" marker n bytes of
    nothing. That layout is placed on our stream where its first bytes are (at our offset 0 when it starts
    where we do; later when tshark dropped data captured before its first segment). Every byte both have must
    be equal, except where we report copies that differ (tshark may have kept the other copy)."""
    # tshark writes what was captured of a segment the snap length cut and moves on by its whole length without
    # a marker: lay our stream out the same way, snap-length gaps taking no room
    placed: list[tuple[int, int, Chunk]] = []  # (our offset, tshark-space position, chunk)
    cut = 0
    for item in ours.items:
        if isinstance(item, Chunk):
            placed.append((item.offset, item.offset - cut, item))
        elif item.kind == "snap":
            cut += item.length
    size = placed[-1][1] + placed[-1][2].length if placed else 0  # not ours.length: a gap at the tail can be huge
    have = bytearray(size)
    known = bytearray(size)  # 1 where we have the byte and no copy of it differed
    for _, at, c in placed:
        have[at : at + c.length] = c.data
        known[at : at + c.length] = b"\x01" * c.length
    for x in ours.conflicts:
        k = bisect.bisect_right([p[0] for p in placed], x.offset) - 1
        if k >= 0:
            lo = x.offset - placed[k][0] + placed[k][1]
            known[lo : lo + x.length] = bytes(len(known[lo : lo + x.length]))
    layout: list[tuple[int, bytes]] = []
    pos = 0
    for chunk in theirs:
        m = MISSING.match(chunk)
        if m:
            pos += int(chunk[1:].split(b" ", 1)[0])
        else:
            layout.append((pos, chunk))
            pos += len(chunk)
    if not layout:
        return None
    first_pos, first = layout[0]
    shift = 0
    if bytes(have[first_pos : first_pos + len(first)]) != first:  # tshark started elsewhere: find it in ours
        k = bytes(have).find(first)
        if k < 0:
            return f"{ours.direction}: tshark's first {len(first)} bytes are nowhere in ours"
        shift = k - first_pos
    compared = 0
    for at, chunk in layout:
        lo = at + shift
        if lo < 0 or lo + len(chunk) > len(have):
            return f"{ours.direction}: tshark has {len(chunk)} bytes at {lo}, beyond our {len(have)}-byte stream"
        for i, b in enumerate(chunk):
            if known[lo + i]:
                compared += 1
                if have[lo + i] != b:
                    return f"{ours.direction}: byte {lo + i} is {have[lo + i]:#04x}, tshark {b:#04x}"
    return None


def compare(fs: FollowedStream, theirs: TsharkFollow) -> list[str]:
    if not theirs.nodes:  # tshark printed no node: it saw no segment of the stream with a whole header
        return [] if not (fs.c2s.data or fs.s2c.data) else ["tshark followed nothing"]
    first = fs.c2s if theirs.nodes[0] == fs.c2s.sender else fs.s2c
    second = fs.s2c if first is fs.c2s else fs.c2s
    out = []
    for half, chunks in ((first, theirs.chunks[0]), (second, theirs.chunks[1])):
        problem = disagreement(half, chunks)
        if problem:
            out.append(problem)
    return out


def _captures() -> list[Path]:
    caps = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))
    index = CORPUS / "INDEX.tsv"
    if index.is_file():
        for line in index.read_text().splitlines()[1:]:
            path = CORPUS / line.split("\t", 1)[0]
            if path.is_file():
                caps.append(path)
    return caps


CAPTURES = _captures()


def _id(p: Path) -> str:
    return p.relative_to(CORPUS).as_posix() if CORPUS in p.parents else p.name


def _streams_with_payload(capture: Path) -> list[int]:
    from tcptrace.engine import summarize

    picked = []
    for s in summarize(capture)[0]:
        d = s.to_dict()
        if any(d["bytes"].values()):
            picked.append(s.flow.stream)
        if len(picked) == MAX_STREAMS:
            break
    return picked


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed: the follow agreement test needs it")
@pytest.mark.parametrize("capture", CAPTURES, ids=[_id(c) for c in CAPTURES])
def test_followed_bytes_equal_tsharks(capture: Path, request: pytest.FixtureRequest) -> None:
    from tcptrace.engine import Pipeline
    from tcptrace.errors import TcptraceError
    from tcptrace.follow import Reassembler
    from tcptrace.selection import Selection

    try:
        streams = _streams_with_payload(capture)
    except TcptraceError as exc:
        pytest.skip(f"not a capture tcptrace reads: {exc}")
    if not streams:
        pytest.skip("no stream carries payload")
    theirs = tshark_follow(capture, streams, _cache_dir(request))
    # one pass for the streams, with the RST payloads that tshark's Follow keeps (a receiver does not deliver them)
    ours: dict[int, Reassembler] = {}
    for seg in Pipeline(capture, selection=Selection.of(streams)):
        r = ours.get(seg.stream)
        if r is None:
            r = ours[seg.stream] = Reassembler(seg.stream, rst_payload=True)
        r.add(seg)
    problems = []
    for n in streams:
        if n not in theirs:
            problems.append(f"stream {n}: tshark printed no follow block")
            continue
        problems += [f"stream {n}: {p}" for p in compare(ours[n].finish(), theirs[n])]
    assert not problems, "\n".join(problems)


def test_corpus_is_present_for_follow() -> None:
    """Say loudly when only the samples were compared."""
    if not (CORPUS / "INDEX.tsv").is_file():
        pytest.skip(f"../shared/corpus not found at {CORPUS}: only sample_pcaps/ was compared with tshark's follow")
    assert len(CAPTURES) > 100
