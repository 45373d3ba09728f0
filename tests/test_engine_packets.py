"""`tcptrace packets` from the C engine's packets pass (Engine.packets, engine.PacketStream) against the pure-Python
reference: the whole capture's jsonl, csv and table output byte for byte, on every sample and corpus capture, built
pcapng and tunnel cases, damaged bytes and random packet sequences (hypothesis).

Each capture is rendered three ways: by the Python pipeline; by the engine handing out every packet as a Segment
with its analysis on it, rendered by tcptrace.export (``fmt=None``: what the engine computes, checked field by field
through the output); and by the engine rendering the lines of settled streams itself (``fmt="jsonl"``/``"csv"``:
its renderer checked against export.py's).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import CORPUS_FILES, _build, _decode_cases, _packet, _pcapng_cases

from tcptrace.engine import PacketStream
from tcptrace.export import csv_lines, jsonl_lines, table_lines
from tcptrace.model import Segment
from tcptrace.selection import Selection

if os.environ.get("TCPTRACE_REQUIRE_ENGINE") != "1":
    pytest.importorskip("tcptrace._engine", reason="C engine not built: the Python path is the one")

FORMATS = ("jsonl", "csv", "table")


def _render(path: Path | str, fmt: str, engine: str, monkeypatch: pytest.MonkeyPatch, *, lines: bool = True,
            selection: tuple[Any, ...] = ()) -> tuple[str, int]:  # fmt: skip
    """The packets output of ``path`` in ``fmt`` (or the error), and how many packets the engine rendered itself.
    ``selection``: Selection.of's arguments (a Selection caches its answers per stream number: one per run)."""
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    try:
        stream = PacketStream(path, Selection.of(*selection), fmt=fmt if lines else None)
        rendered = 0

        def counted() -> Iterator[Any]:
            nonlocal rendered
            for item in stream:
                if type(item) is not Segment:
                    rendered += item.packets
                yield item

        if fmt == "jsonl":
            out = list(jsonl_lines(counted()))
        elif fmt == "csv":
            out = list(csv_lines(counted()))
        else:
            out = list(table_lines(counted(), origin_ns=lambda: stream.stats.first_ts_ns))
        out.append(f"selected {stream.selected} of {stream.streams_total}; {stream.stats.as_dict()}")
        return "\n".join(out), rendered
    except Exception as exc:  # the same error either way is agreement too
        return f"{type(exc).__name__}: {exc}", 0


def _assert_same(path: Path | str, monkeypatch: pytest.MonkeyPatch, fmt: str = "jsonl", **kw: Any) -> int:
    ref, _ = _render(path, fmt, "python", monkeypatch, **kw)
    records, none = _render(path, fmt, "c", monkeypatch, lines=False, **kw)
    fast, rendered = _render(path, fmt, "c", monkeypatch, **kw)
    assert not none
    for name, got in (("engine Segments", records), ("engine lines", fast)):
        if got != ref:
            a, b = ref.split("\n"), got.split("\n")
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            pytest.fail(
                f"{name} differ at line {first}:\n  python: {a[first : first + 1]}\n  engine: {b[first : first + 1]}"
            )
    return rendered


CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_samples_identical(path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(path, monkeypatch, fmt)


def test_engine_renders_the_settled_packets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lines are the engine's own for the data of settled streams (else the comparison above would only compare
    export.py with itself), and never for a packet with something to explain."""
    path = SAMPLES / "lossy_bulk.pcap"
    for fmt in FORMATS:
        rendered = _assert_same(path, monkeypatch, fmt)
        assert rendered > 100, fmt
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    for item in PacketStream(path, fmt="jsonl"):
        if type(item) is not Segment:
            for line in item.text.split("\n"):
                assert '"analysis":[]' in line
                assert '"client_state":"ESTABLISHED","server_state":"ESTABLISHED"' in line
                flags = line.split('"flags":')[1].split("]")[0]
                assert not {'"SYN"', '"FIN"', '"RST"'} & set(flags.strip("[").split(","))


@pytest.mark.parametrize(
    "selection", [([1],), ([0, 5],), ((), (), [20000]), ((), ["10.99.0.2"])], ids=["s1", "s0-5", "port", "host"]
)
def test_selections_identical(selection: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("port_reuse.pcap", "dialogue_threaded.pcap", "echo_ipv6.pcapng"):
        _assert_same(SAMPLES / name, monkeypatch, "jsonl", selection=selection)


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus is not beside the repository")
@pytest.mark.parametrize("fmt", FORMATS)
def test_corpus_identical(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = sum(_assert_same(path, monkeypatch, fmt) for path in CORPUS_FILES)
    assert rendered > 10_000  # the corpus really was read, and mostly rendered by the engine


@pytest.mark.parametrize("name", sorted(_pcapng_cases()))
def test_built_pcapng_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / (name + ".pcapng")
    path.write_bytes(_pcapng_cases()[name])
    _assert_same(path, monkeypatch)


@pytest.mark.parametrize("name", sorted(_decode_cases()))
def test_decode_cases_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / (name + ".pcap")
    path.write_bytes(_decode_cases()[name])
    _assert_same(path, monkeypatch)


def test_damaged_bytes_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random byte damage (seeded) in a capture with loss, retransmissions and SACK: the same output both ways."""
    import random

    data = (SAMPLES / "sack_dsack.pcap").read_bytes()
    rng = random.Random(12)
    for i in range(15):
        buf = bytearray(data)
        for _ in range(rng.choice([1, 5, 40])):
            pos = rng.randrange(24, len(buf))
            buf[pos] = rng.randrange(256)
        path = tmp_path / f"d{i}.pcap"
        path.write_bytes(bytes(buf))
        _assert_same(path, monkeypatch)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=st.lists(_packet, min_size=1, max_size=60),
    isn=st.sampled_from([1, 0x7FFFFFF0, 0xFFFFFF00, 0xFFFFFFFF]),
    link=st.sampled_from(["ether", "sll", "raw", "vlan", "ipv6"]),
    fmt=st.sampled_from(FORMATS),
)
def test_random_sequences_identical(
    spec: list[dict[str, Any]], isn: int, link: str, fmt: str, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: Any,
) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("rand") / "r.pcap"
    path.write_bytes(_build(spec, isn, link))
    _assert_same(path, monkeypatch, fmt)


# What the decoder sets on a Segment (model.Segment's constructor, and urg_ptr)
_DECODED = ("frame", "ts_ns", "interface", "ip_version", "src", "dst", "sport", "dport", "seq_raw", "ack_raw",
            "flags", "win_raw", "hdr_len", "len", "ip_id", "ttl", "opt_bytes", "payload", "header_truncated",
            "header_error", "urg_ptr")  # fmt: skip


def _fused_cases() -> bytes:
    """Frames the C walk's fused decode takes (Ethernet, IPv4 without options, a whole TCP header) with what the
    Segment it builds must carry: options, URG with its pointer, payload cut by the snap length, an Ethernet
    trailer past the IP length, a header exactly at the snap length; and two it leaves to Python (IP options,
    a TCP header cut by the snap length)."""
    import pcapgen as g

    syn = g.tcp(40000, 80, 1000, 0, g.SYN, options=g.opt_mss(1460) + g.opt_ws(7) + g.opt_sack_perm())
    synack = g.tcp(80, 40000, 5000, 1001, g.SYN | g.ACK, options=g.opt_mss(1400))
    urg = bytearray(g.tcp(40000, 80, 1001, 5001, g.ACK | g.PSH | 0x20, payload=b"!urgent"))
    urg[18:20] = (3).to_bytes(2, "big")
    frames = [
        (g.ether(g.ipv4(syn, ip_id=7)), None),
        (g.ether(g.ipv4(synack, src="10.0.0.2", dst="10.0.0.1", ip_id=8)), None),
        (g.ether(g.ipv4(bytes(urg), ip_id=9)), None),
        (g.ether(g.ipv4(g.tcp(40000, 80, 1008, 5001, g.ACK, payload=b"y" * 1000))), 14 + 20 + 20 + 100),  # snapped
        (g.ether(g.ipv4(g.tcp(80, 40000, 5001, 2008, g.ACK), src="10.0.0.2", dst="10.0.0.1")) + b"\0" * 6, None),
        (g.ether(g.ipv4(g.tcp(40000, 80, 2008, 5001, g.ACK, payload=b"z" * 50))), 14 + 20 + 20),  # header only
        (g.ether(g.ipv4(g.tcp(40000, 80, 2058, 5001, g.ACK, payload=b"o"), options=b"\x01" * 4)), None),
        (g.ether(g.ipv4(g.tcp(40000, 80, 2059, 5001, g.ACK, options=g.opt_ts(1, 2)))), 14 + 20 + 24),  # header cut
    ]
    recs = []
    for i, (frame, cut) in enumerate(frames):
        data = frame if cut is None else frame[:cut]
        recs.append(g.Rec(data, 1_700_000_000_000_000_000 + i * 1_000_000, len(frame)))
    return g.pcap(recs)


def test_kept_segments_decoded_as_the_python_reader_decodes_them(tmp_path: Path) -> None:
    """The engine's packets pass builds a kept fused frame's Segment in C (_engine.c fused_segment): every field
    the decoder sets equals the Python reader's Segment of the same frame, fused or layered."""
    from tcptrace.capture import open_capture
    from tcptrace.engine import StreamSegments

    path = tmp_path / "fused.pcap"
    path.write_bytes(_fused_cases())
    want = [tuple(getattr(s, f) for f in _DECODED) for s in open_capture(str(path))]
    got = [tuple(getattr(s, f) for f in _DECODED) for s in StreamSegments(str(path), 0)]
    assert len(want) == 8
    assert got == want
    assert {w[_DECODED.index("urg_ptr")] for w in want} == {0, 3}
    assert any(w[_DECODED.index("header_truncated")] for w in want)
