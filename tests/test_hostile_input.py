"""Hostile and damaged input (issue #13): never a traceback, bounded memory and time, and the same result from
both engines. Every capture here is built by code (tests/pcapgen.py), small, and states which bytes it feeds the
reader; the bounds it checks are those of docs/limits.md ("Reading")."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pcapgen as pg
import pytest
from conftest import engines

from tcptrace import stats
from tcptrace.capture import WARNINGS_PER_KIND

T0 = 1_700_000_000_123_456_789
E = pg.Iface(1)
IP = pg.handshake_and_data()


def _doc(path: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    summaries, cap_stats = stats.summarize(path)
    return {"flows": [s.to_dict() for s in summaries], "stats": cap_stats.as_dict()}


def _same(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The flows and accounting, the same (byte for byte as JSON) from every engine that is built."""
    docs = [_doc(path, engine, monkeypatch) for engine in engines()]
    for other in docs[1:]:
        assert other["stats"] == docs[0]["stats"]
        assert json.dumps(other, sort_keys=True) == json.dumps(docs[0], sort_keys=True)
    return docs[0]


def _write(tmp_path: Path, data: bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _epb(iface: int, data: bytes, units: int = 0) -> bytes:
    """An enhanced packet block naming ``iface``, its timestamp ``units`` as written (little-endian)."""
    return pg.pcapng_block(
        6, struct.pack("<IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), len(data)) + data
    )


def _recs(pkts: list[bytes], iface: int = 0, start: int = T0, gap: int = 1_250_000) -> list[pg.Rec]:
    return [pg.Rec(p, start + i * gap, iface=iface) for i, p in enumerate(pkts)]


# --- warnings: the first few of a kind, then one summary line ----------------------------------------------------


def test_a_flood_of_one_warning_is_summarised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a handshake, then 1,000 frames naming interface 3, which no block describes. The first
    WARNINGS_PER_KIND warnings are kept word for word, the rest are one line at the end; both engines agree."""
    stray = _epb(3, pg.ether(IP[0]))
    data = pg.pcapng(_recs([pg.ether(p) for p in IP]), [E]) + stray * 1000
    doc = _same(_write(tmp_path, data, "stray.pcapng"), monkeypatch)
    warnings = doc["stats"]["warnings"]
    assert warnings == [
        *(f"frame {n} names interface 3, which was never described; skipped" for n in range(6, 6 + WARNINGS_PER_KIND)),
        f"... and {1000 - WARNINGS_PER_KIND} more like this: frames naming an interface that was never described",
    ]
    assert doc["stats"]["skipped"] == {"malformed": 1000}
    assert doc["stats"]["frames"] == 1005


def test_warnings_of_different_kinds_are_counted_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: frames of 7 interfaces of 7 link types tcptrace cannot decode, and 7 frames naming an
    undescribed interface, mixed: each kind keeps its own first few and gets its own summary line."""
    ifaces = [pg.Iface(1), *(pg.Iface(200 + i) for i in range(7))]
    blocks = [pg.pcapng_section(ifaces)]
    for i in range(7):
        blocks.append(_epb(1 + i, b"\x00" * 40))
        blocks.append(_epb(99, b"\x00" * 40))
    data = b"".join(blocks) + b"".join(pg.pcapng_packet(r, E) for r in _recs([pg.ether(p) for p in IP]))
    doc = _same(_write(tmp_path, data, "mixed.pcapng"), monkeypatch)
    warnings = doc["stats"]["warnings"]
    assert len(warnings) == 2 * WARNINGS_PER_KIND + 2
    assert sum("which was never described" in w for w in warnings) == WARNINGS_PER_KIND
    assert sum("its frames are skipped" in w for w in warnings) == WARNINGS_PER_KIND
    assert warnings[-2:] == [
        "... and 2 more like this: interfaces of link types tcptrace cannot decode",
        "... and 2 more like this: frames naming an interface that was never described",
    ]


# --- interface description options that run past their block ----------------------------------------------------


def _idb(linktype: int, options: bytes) -> bytes:
    """An interface description block whose options are ``options``, raw (padded to 4 bytes, no end-of-options)."""
    return pg.pcapng_block(1, struct.pack("<HHI", linktype, 0, 0) + options)


def _opt(code: int, olen: int, value: bytes = b"") -> bytes:
    """An option header claiming ``olen`` bytes, followed by ``value`` (which may be shorter)."""
    return struct.pack("<HH", code, olen) + value


PAST_END = "past the end of its description block; ignored, with the options after it"
IDB_OPTION_CASES: dict[str, tuple[bytes, str, int]] = {  # options -> warning, if_tsresol the frames were read with
    # the reported bug: struct.error, "unpack requires a buffer of 8 bytes"
    "tsoffset_header_only": (_opt(14, 8), f"interface 0: option if_tsoffset claims 8 bytes, {PAST_END}", 6),
    # its value would run 4 bytes into the block's trailing length (read as part of the offset before)
    "tsoffset_half": (
        _opt(14, 8, b"\x01\x00\x00\x00"),
        f"interface 0: option if_tsoffset claims 8 bytes, {PAST_END}",
        6,
    ),
    "tsresol_header_only": (_opt(9, 1), f"interface 0: option if_tsresol claims 1 bytes, {PAST_END}", 6),
    "any_option_huge": (_opt(2, 0xFFFF, b"eth0"), f"interface 0: option 2 claims 65535 bytes, {PAST_END}", 6),
    "tsoffset_short": (
        _opt(14, 4, b"\x01\x00\x00\x00"),
        "interface 0: option if_tsoffset has 4 bytes, not 8; ignored",
        6,
    ),
    "tsresol_empty": (_opt(9, 0), "interface 0: option if_tsresol has 0 bytes, not 1; ignored", 6),
    # the options before the damaged one still count: nanoseconds here
    "after_a_good_option": (
        _opt(9, 1, b"\x09\x00\x00\x00") + _opt(14, 8, b"\x00" * 4),
        f"interface 0: option if_tsoffset claims 8 bytes, {PAST_END}",
        9,
    ),
}


@pytest.mark.parametrize("name", sorted(IDB_OPTION_CASES))
def test_idb_option_past_its_block_is_a_warning(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: one interface whose options are damaged, then a handshake and data on it. Never an exception:
    the option is ignored with a warning naming the interface and the option, and the frames are read."""
    from tcptrace.capture import open_capture

    options, warning, tsresol = IDB_OPTION_CASES[name]
    iface = pg.Iface(1, tsresol)
    data = (
        pg.pcapng_section([])
        + _idb(1, options)
        + b"".join(pg.pcapng_packet(r, iface) for r in _recs([pg.ether(p) for p in IP]))
    )
    path = _write(tmp_path, data, name + ".pcapng")
    doc = _same(path, monkeypatch)
    assert doc["stats"]["warnings"] == [warning]
    assert doc["stats"]["tcp_segments"] == len(IP)
    cap = open_capture(path)
    unit = 10 ** (9 - tsresol)
    assert [s.ts_ns for s in cap] == [t // unit * unit for t in (r.ts_ns for r in _recs(IP))]


def test_random_damage_to_interface_descriptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code, damaged at random (seeded): interface descriptions with options, each byte of the section
    header and descriptions possibly changed. Never anything but a CaptureError, and the same both ways."""
    import random

    from tcptrace.errors import CaptureError

    ifaces = [pg.Iface(1, 9, 1_600_000_000), pg.Iface(113, 0x80 | 20, -86_400), pg.Iface(101, None, 7)]
    head = pg.pcapng_section(ifaces)
    recs = [pg.Rec(r.data, r.ts_ns, iface=i % 3) for i, r in enumerate(_recs(IP * 3))]
    wrap = {0: pg.ether, 1: pg.sll, 2: lambda p: p}
    body = b"".join(
        pg.pcapng_packet(pg.Rec(wrap[r.iface](r.data), r.ts_ns, iface=r.iface), ifaces[r.iface]) for r in recs
    )
    rng = random.Random(13)
    for i in range(60):
        buf = bytearray(head)
        for _ in range(rng.choice([1, 3, 10])):
            buf[rng.randrange(28, len(buf))] = rng.randrange(256)
        if i % 2:  # an option's length, most likely (2-byte aligned)
            at = rng.randrange(14, len(buf) // 2) * 2
            buf[at : at + 2] = rng.randrange(1 << 16).to_bytes(2, "little")
        path = _write(tmp_path, bytes(buf) + body, f"d{i}.pcapng")
        outcomes = []
        for engine in engines():
            try:
                outcomes.append(json.dumps(_doc(path, engine, monkeypatch), sort_keys=True))
            except CaptureError as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
        assert len(set(outcomes)) == 1, i


# --- memory bombs: block lengths and gzip ------------------------------------------------------------------------


def _zeros_gz(prefix: bytes, n_zeros: int) -> bytes:
    """``prefix`` and ``n_zeros`` zero bytes, gzip-compressed a chunk at a time (about 1 KB per MB of zeros)."""
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [z.compress(prefix)]
    chunk = bytes(1 << 20)
    for _ in range(n_zeros >> 20):
        parts.append(z.compress(chunk))
    parts.append(z.flush())
    return b"".join(parts)


def _peak_bytes(fn: Any) -> int:
    """The most memory Python allocated while ``fn()`` ran (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _zeros_compressed(codec: str, n_zeros: int) -> bytes:
    """``n_zeros`` zero bytes compressed with ``codec`` (built by code), a chunk at a time."""
    if codec == "gzip":
        return _zeros_gz(b"", n_zeros)
    chunk = bytes(1 << 20)
    if codec in ("xz", "bzip2"):
        import bz2
        import lzma

        c: Any = lzma.LZMACompressor(preset=0) if codec == "xz" else bz2.BZ2Compressor(1)
        return b"".join([*(c.compress(chunk) for _ in range(n_zeros >> 20)), c.flush()])
    if codec == "zstd":
        zstd = pytest.importorskip("backports.zstd", reason="the zstd extra (backports.zstd) is not installed")
        c = zstd.ZstdCompressor()
        return b"".join([*(c.compress(chunk) for _ in range(n_zeros >> 20)), c.flush()])
    lz4_frame = pytest.importorskip("lz4.frame", reason="the lz4 extra is not installed")
    c = lz4_frame.LZ4FrameCompressor()
    return b"".join([c.begin(), *(c.compress(chunk) for _ in range(n_zeros >> 20)), c.flush()])


@pytest.mark.parametrize("codec", ["gzip", "xz", "bzip2", "zstd", "lz4"])
def test_decompression_inflates_what_is_asked_not_all_it_could(codec: str) -> None:
    """Built by code: 64 MiB of zeros in a stream of at most a few hundred KB. Asking for 10 bytes inflates a bounded
    step (capture.INFLATE_STEP, the decompressor's max_length), not everything the compressed chunk read holds."""
    import io

    from tcptrace.capture import CODECS, INFLATE_STEP, _Decompressed

    data = _zeros_compressed(codec, 64 << 20)
    assert len(data) < 400_000
    (spec,) = [c for c in CODECS if c.name == codec]
    got: list[bytes] = []

    def first_bytes() -> None:
        d = _Decompressed(io.BytesIO(data[4:]), data[:4], spec)
        got.append(d.read1(10))
        got.append(d.read(10))

    assert _peak_bytes(first_bytes) < 3 * INFLATE_STEP
    assert got == [bytes(10), bytes(10)]
    d = _Decompressed(io.BytesIO(data[4:]), data[:4], spec)
    total = 0
    while chunk := d.read1(1 << 20):
        assert len(chunk) <= 1 << 20
        total += len(chunk)
    assert total == 64 << 20
    assert d.damaged is None


def test_section_header_claiming_4_gib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a gzip-compressed pcapng whose section header claims 4 GiB, then 64 MiB of zeros (12.3 GB
    and 29 s before: the length was not capped and the whole block was inflated). Every block length is capped at
    vocab.MAX_BLOCK_BYTES: the first section header is 'not a capture', a later one a warning that stops."""
    from tcptrace.capture import open_capture
    from tcptrace.errors import NotACapture

    shb = b"\x0a\x0d\x0d\x0a" + struct.pack("<II", 0xFFFFFFFC, 0x1A2B3C4D)
    path = _write(tmp_path, _zeros_gz(shb, 64 << 20), "bomb.pcapng.gz")

    def read() -> None:
        with pytest.raises(NotACapture, match=r"bad length \(4294967292\)"):
            list(open_capture(path))

    assert _peak_bytes(read) < 16 << 20
    for engine in engines():
        monkeypatch.setenv("TCPTRACE_ENGINE", engine)
        with pytest.raises(NotACapture, match="bad length"):
            stats.summarize(path)
    later = pg.pcapng(_recs([pg.ether(p) for p in IP]), [E]) + shb
    doc = _same(_write(tmp_path, _zeros_gz(later, 8 << 20), "later.pcapng.gz"), monkeypatch)
    assert doc["stats"]["warnings"] == ["damaged pcapng section header after frame 5; stopped reading there"]
    assert doc["stats"]["tcp_segments"] == 5


@pytest.mark.parametrize("btype", [6, 1, 0x40000BAD])
def test_block_longer_than_the_cap(btype: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a block (packet, interface description, custom) claiming one word more than
    vocab.MAX_BLOCK_BYTES stops the walk with a warning, in both engines."""
    from tcptrace.vocab import MAX_BLOCK_BYTES

    good = pg.pcapng(_recs([pg.ether(p) for p in IP]), [E])
    over = struct.pack("<II", btype, MAX_BLOCK_BYTES + 4) + bytes(64)
    doc = _same(_write(tmp_path, good + over, "over.pcapng"), monkeypatch)
    assert doc["stats"]["warnings"] == [
        f"damaged pcapng block (type {btype:#x}, length {MAX_BLOCK_BYTES + 4}) after frame 5; stopped reading there"
    ]


def test_block_at_the_cap_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a custom block of exactly vocab.MAX_BLOCK_BYTES between two runs of packets is skipped over,
    and the packets after it are read, in both engines."""
    from tcptrace.vocab import MAX_BLOCK_BYTES

    good = pg.pcapng(_recs([pg.ether(p) for p in IP]), [E])
    at_cap = pg.pcapng_block(0x40000BAD, bytes(MAX_BLOCK_BYTES - 12))
    assert len(at_cap) == MAX_BLOCK_BYTES
    doc = _same(_write(tmp_path, good + at_cap + good[len(pg.pcapng_section([E])) :], "cap.pcapng"), monkeypatch)
    assert doc["stats"]["warnings"] == []
    assert doc["stats"]["frames"] == 10


# --- many interface descriptions ---------------------------------------------------------------------------------


def test_interface_descriptions_share_their_decoders() -> None:
    """Built by code: 20,000 interface descriptions of two link types. Decoders are made once per link type (a
    closure and a Struct per description took 1.35 GB for a million): a description costs a few hundred bytes."""
    import io

    from tcptrace.capture import open_capture

    idbs = [pg.pcapng_block(1, struct.pack("<HHI", (1, 113)[i % 2], 0, 0)) for i in range(2)] * 10_000
    data = pg.pcapng_section([]) + b"".join(idbs) + pg.pcapng_packet(pg.Rec(pg.ether(IP[0]), T0), E)
    cap = open_capture(io.BytesIO(data))

    def read() -> None:
        assert len(list(cap)) == 1

    assert _peak_bytes(read) < 20_000 * 600
    assert len(cap.stats.linktypes) == 20_000


def test_interfaces_beyond_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code, with the bound (capture.MAX_INTERFACES) lowered to 4: six interfaces in a first section and
    one in a second, a handshake on each. The descriptions past the bound are ignored with a warning (also in a
    later section: the bound is per capture), the frames naming them skipped with a warning; the same both ways."""
    from tcptrace import capture

    monkeypatch.setattr(capture, "MAX_INTERFACES", 4)
    first = [pg.Iface(1)] * 6
    recs = [pg.Rec(pg.ether(p), T0 + i * 1000, iface=i % 6) for i, p in enumerate(IP * 6)]
    data = pg.pcapng_section(first) + b"".join(pg.pcapng_packet(r, E) for r in recs)
    data += pg.pcapng(_recs([pg.ether(p) for p in IP], start=T0 + 10**9), [E])
    doc = _same(_write(tmp_path, data, "many.pcapng"), monkeypatch)
    warnings = doc["stats"]["warnings"]
    assert warnings[:2] == [
        "interface 4: more than 4 interfaces described; ignored, and the frames naming it skipped",
        "interface 5: more than 4 interfaces described; ignored, and the frames naming it skipped",
    ]
    assert warnings[2] == "frame 5 names interface 4, beyond the first 4 described; skipped"
    assert (
        warnings[-1] == "... and 13 more like this: interfaces beyond the number tcptrace keeps, and frames naming them"
    )
    assert doc["stats"]["skipped"] == {"malformed": 15}  # interfaces 4 and 5, and the second section's
    assert doc["stats"]["tcp_segments"] == 20
    assert doc["stats"]["linktypes"] == {str(i): 1 for i in range(4)}


def test_descriptions_between_packets_cost_linear_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: 30,000 interface descriptions, each followed by a packet on interface 0. Each description
    hands the walk back to Python and the engine's table grows by one; the engine reads only the new entry (it read
    the whole table on every call: quadratic, minutes)."""
    import time

    idb = pg.pcapng_block(1, struct.pack("<HHI", 1, 0, 0))
    epb = pg.pcapng_packet(pg.Rec(pg.ether(IP[0]), T0), E)
    path = _write(tmp_path, pg.pcapng_section([]) + (idb + epb) * 30_000, "alternating.pcapng")
    started = time.perf_counter()
    doc = _same(path, monkeypatch)
    assert time.perf_counter() - started < 30
    assert doc["stats"]["frames"] == 30_000
    assert len(doc["stats"]["linktypes"]) == 30_000


# --- timestamps: one range, clamped in one place -----------------------------------------------------------------


def test_far_timestamps_same_from_a_path_or_a_pipe(tmp_path: Path) -> None:
    """Built by code: two interfaces whose if_tsoffset puts them at -5e18 and +5e18 ns, a conversation across
    them. The reader clamps both to vocab.TS_NS_MAX with a warning; `tcptrace flows` prints the same from the path
    and from a pipe, in both engines (a pipe with the C engine was an error naming TCPTRACE_ENGINE=python)."""
    import os
    import subprocess
    import sys

    from test_engine import _far_apart

    path = _write(tmp_path, _far_apart(5_000_000_000), "far.pcapng")
    outputs = []
    for engine in engines():
        env = {**os.environ, "TCPTRACE_ENGINE": engine}
        for source in (str(path), "-"):
            run = subprocess.run(
                [sys.executable, "-m", "tcptrace", "flows", "--format", "json", source],
                input=path.read_bytes() if source == "-" else b"",
                capture_output=True,
                timeout=60,
                env=env,
                cwd=tmp_path,  # the installed package, not the checkout's sources (no engine built there in CI)
            )
            assert run.returncode == 0, run.stderr
            assert b"read as that moment" in run.stderr
            outputs.append(run.stdout.replace(str(path).encode(), b"-"))
    assert len(set(outputs)) == 1


def test_simple_packet_block_without_room_for_its_length(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a 12-byte simple packet block, whose 'original length' would be its own trailing block length
    (the walk read it as such, and gave the decoder a frame ending before it began). It is a malformed frame."""
    good = pg.pcapng(_recs([pg.ether(p) for p in IP]), [E])
    data = good + struct.pack("<III", 3, 12, 12) + good[len(pg.pcapng_section([E])) :]
    doc = _same(_write(tmp_path, data, "spb.pcapng"), monkeypatch)
    assert doc["stats"]["skipped"] == {"malformed": 1}
    assert doc["stats"]["frames"] == 11
    assert doc["stats"]["warnings"] == []
