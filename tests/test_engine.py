"""The C engine (tcptrace._engine) against the pure-Python reference: identical flow summaries and capture
accounting on every sample and corpus capture, on damaged files, and on random packet sequences (hypothesis).

The packets in the random tests are built by code (tests/pcapgen.py): synthetic fixtures, chosen to reach the
corners of packet-tcp.c's conditions (wraparound, zero windows, reused ports, hardware duplicates, snap-cut
options, IPv6 and link types the fused decode leaves to Python).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import pcapgen as pg
import pytest
from conftest import CORPUS, SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcptrace import engine as engine_glue
from tcptrace import stats

if os.environ.get("TCPTRACE_REQUIRE_ENGINE") == "1":  # .ci/run: the engine must have been built
    from tcptrace import _engine  # noqa: F401
else:
    pytest.importorskip(
        "tcptrace._engine", reason="C engine not built (no C compiler at install time): the Python path is the one"
    )


def _summary(path: Path | str, engine: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    try:
        summaries, cap_stats = stats.summarize(path)
    except Exception as exc:  # the same error either way is agreement too
        return f"{type(exc).__name__}: {exc}"
    doc: dict[str, Any] = {"flows": [s.to_dict() for s in summaries], "stats": cap_stats.as_dict()}
    return json.dumps(doc, sort_keys=True)


def _assert_same(path: Path | str, monkeypatch: pytest.MonkeyPatch) -> str:
    ref = _summary(path, "python", monkeypatch)
    fast = _summary(path, "c", monkeypatch)
    if ref != fast:
        a, b = json.loads(ref), json.loads(fast)
        assert a["stats"] == b["stats"]
        for fa, fb in zip(a["flows"], b["flows"], strict=True):
            assert fa == fb, f"stream {fa['stream']} differs"
    assert ref == fast
    return ref


CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))
CORPUS_FILES = (
    sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix not in (".tsv", ".md", ".json", ".txt") and not p.name.startswith(".")
    )
    if CORPUS.is_dir()
    else []
)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_samples_identical(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(_assert_same(path, monkeypatch))
    assert doc["flows"], "every sample has at least one stream"


@pytest.mark.skipif(not CORPUS_FILES, reason="../shared/corpus is not beside the repository")
def test_corpus_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    flows = 0
    for path in CORPUS_FILES:
        doc = _assert_same(path, monkeypatch)
        if doc.startswith("{"):
            flows += len(json.loads(doc)["flows"])
    assert flows > 1000  # the corpus really was read


def test_engine_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPTRACE_ENGINE", "c")
    assert stats.engine_module() is not None
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    assert stats.engine_module() is None


def _write(tmp_path: Path, data: bytes, name: str = "t.pcap") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_damaged_files_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkts = pg.handshake_and_data()
    whole = pg.pcap(pg.records(pkts), linktype=101)
    cases = {
        "cut_in_record_header": whole[: len(whole) - len(pkts[-1]) - 8],
        "cut_in_frame": whole[:-5],
        "header_only": whole[:24],
        "huge_caplen": whole[:24] + b"\x00" * 8 + b"\xff\xff\xff\x7f" * 2 + b"x" * 40,
        "swapped_lengths": pg.pcap(
            [pg.Rec(r.data, r.ts_ns, orig_len=len(r.data) + 100) for r in pg.records(pkts)],
            linktype=101,
            version=(2, 2),
        ),
        "ns_big_endian": pg.pcap(pg.records(pkts), linktype=101, nano=True, big_endian=True),
    }
    for name, data in cases.items():
        doc = _assert_same(_write(tmp_path, data, name + ".pcap"), monkeypatch)
        if name.startswith("cut") or name == "huge_caplen":
            assert json.loads(doc)["stats"]["warnings"], name


# --- random packet sequences ---------------------------------------------------------------------------------

_FLAG_CHOICES = [
    pg.SYN,
    pg.SYN | pg.ACK,
    pg.ACK,
    pg.ACK,
    pg.ACK,
    pg.ACK | pg.PSH,
    pg.FIN | pg.ACK,
    pg.RST,
    pg.RST | pg.ACK,
    pg.FIN,
    0,
]

_packet = st.fixed_dictionaries(
    {
        "flow": st.integers(0, 2),
        "reverse": st.booleans(),
        "flags": st.sampled_from(_FLAG_CHOICES),
        "seq_step": st.sampled_from([0, 0, 1, -1, 1448, -1448, 100, 2**31, -(2**31) + 7]),
        "ack_step": st.sampled_from([0, 0, 1, 1448, -1448, 2**31 - 1]),
        "len": st.sampled_from([0, 0, 0, 1, 10, 1448]),
        "win": st.sampled_from([0, 1, 512, 65535, 29200]),
        "opts": st.sampled_from(["none", "ts", "sack", "ws", "ws_big", "mss", "cut"]),
        "gap_us": st.sampled_from([0, 1, 300, 5000, 200_000, -50]),
        "same_ipid": st.booleans(),
        "snap": st.sampled_from([None, None, None, 54, 60, 70]),
        "data_offset": st.sampled_from([None] * 12 + [0, 3, 4, 15]),  # bogus and short headers
    }
)


# _build's arguments for a short random capture of three connections (the third reusing the first's four-tuple)
# on the common links: what the engine's modes are held to one plain pass with (test_parallel, test_engine_select)
RANDOM_CAPTURE = {
    "spec": st.lists(_packet, min_size=1, max_size=50),
    "isn": st.sampled_from([1, 0xFFFFFF00]),
    "link": st.sampled_from(["ether", "ipv6", "vlan"]),
}


def _build(spec: list[dict[str, Any]], isn: int, link: str) -> bytes:
    ports = [(40000, 80), (40001, 443), (40000, 80)]  # flow 2 reuses flow 0's 4-tuple (port reuse)
    seqs = {(f, r): (isn + 7919 * f + (r * 0x40000000)) & 0xFFFFFFFF for f in range(3) for r in (0, 1)}
    acks = dict(seqs)
    ts = 1_700_000_000_000_000_000
    recs: list[pg.Rec] = []
    last_ipid = 0x1234
    for p in spec:
        f, r = p["flow"], int(p["reverse"])
        sport, dport = ports[f]
        if r:
            sport, dport = dport, sport
        seqs[(f, r)] = (seqs[(f, r)] + p["seq_step"]) & 0xFFFFFFFF
        acks[(f, 1 - r)] = (acks[(f, 1 - r)] + p["ack_step"]) & 0xFFFFFFFF
        opts = {
            "none": b"",
            "ts": pg.opt_ts(1000 + len(recs), 500),
            "sack": pg.opt_sack((seqs[(f, 1 - r)], (seqs[(f, 1 - r)] + 1448) & 0xFFFFFFFF)),
            "ws": pg.opt_mss(1460) + pg.opt_ws(7),
            "ws_big": pg.opt_ws(15) + pg.opt_sack_perm(),
            "mss": pg.opt_mss(1400),
            "cut": pg.opt_mss(1460) + pg.opt_ws(2) + pg.opt_ts(1, 2),
        }[p["opts"]]
        seg = pg.tcp(
            sport, dport, seqs[(f, r)], acks[(f, 1 - r)], p["flags"], p["win"], opts, b"x" * p["len"], p["data_offset"]
        )
        a, b = ("10.0.0.1", "10.0.0.2") if not r else ("10.0.0.2", "10.0.0.1")
        if link == "ipv6":
            pkt = pg.ether(pg.ipv6(seg, "fd00::" + a[-1], "fd00::" + b[-1]), ethertype=0x86DD)
        else:
            ip_id = last_ipid if p["same_ipid"] else None
            ip = pg.ipv4(seg, a, b, ip_id=ip_id)
            last_ipid = int.from_bytes(ip[4:6], "big")
            if link == "vlan":
                pkt = pg.ether(ip, vlans=(7,))
            elif link == "sll":
                pkt = pg.sll(ip)
            elif link == "sll2":
                pkt = pg.sll2(ip)
            elif link == "raw":
                pkt = ip
            else:
                pkt = pg.ether(ip)
        ts += p["gap_us"] * 1000
        cut = p["snap"]
        data = pkt[:cut] if cut else pkt
        recs.append(pg.Rec(data, ts, orig_len=len(pkt)))
        if p["flags"] & (pg.SYN | pg.FIN):
            seqs[(f, r)] = (seqs[(f, r)] + 1) & 0xFFFFFFFF
        seqs[(f, r)] = (seqs[(f, r)] + p["len"]) & 0xFFFFFFFF
    linktype = {"ether": 1, "vlan": 1, "ipv6": 1, "sll": 113, "sll2": 276, "raw": 101}[link]
    return pg.pcap(recs, linktype=linktype, nano=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=st.lists(_packet, min_size=1, max_size=60),
    isn=st.sampled_from([1, 0x7FFFFFF0, 0xFFFFFF00, 0xFFFFFFFF]),
    link=st.sampled_from(["ether", "sll", "sll2", "raw", "vlan", "ipv6"]),
)
def test_random_sequences_identical(
    spec: list[dict[str, Any]], isn: int, link: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any
) -> None:
    path = tmp_path_factory.mktemp("rand") / "r.pcap"
    path.write_bytes(_build(spec, isn, link))
    _assert_same(path, monkeypatch)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=st.lists(_packet, min_size=1, max_size=60),
    isn=st.sampled_from([1, 0x7FFFFFF0, 0xFFFFFF00, 0xFFFFFFFF]),
    link=st.sampled_from(["ether", "ipv6"]),
)
def test_random_sequences_identical_with_every_flow_packed(
    spec: list[dict[str, Any]], isn: int, link: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: Any
) -> None:
    """The engine packs each stream the moment it ends (reset, or both FINs acknowledged) and unpacks it for
    every later packet: late copies, RSTs after RSTs and SYNs on reused ports must come out as without packing."""
    monkeypatch.setattr(engine_glue, "PACK_AFTER_NS", 0)
    path = tmp_path_factory.mktemp("rand") / "r.pcap"
    path.write_bytes(_build(spec, isn, link))
    _assert_same(path, monkeypatch)


def test_pcapng_and_gzip_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkts = pg.handshake_and_data()
    ng = pg.pcapng([pg.Rec(p, 1_700_000_000_000_000_000 + i * 1000) for i, p in enumerate(pkts)], [(101, 9)])
    _assert_same(_write(tmp_path, ng, "t.pcapng"), monkeypatch)
    _assert_same(_write(tmp_path, pg.gz(pg.pcap(pg.records(pkts), linktype=101)), "t.pcap.gz"), monkeypatch)


# --- pcapng built by code: the blocks Engine.feed_pcapng walks and those it leaves to Python ------------------

T0 = 1_700_000_000_123_456_789
T_OFF = 1_700_000_000 * 10**9
_IP = pg.handshake_and_data()
_IP2 = pg.handshake_and_data(sport=40002, dport=443, isn_c=0xFFFFFFF0, isn_s=77)
_IP3 = pg.handshake_and_data(sport=40003, dport=22, isn_c=5, isn_s=0x80000000)


def _recs(pkts: list[bytes], iface: int = 0, start: int = T0, gap: int = 1_250_000) -> list[pg.Rec]:
    return [pg.Rec(p, start + i * gap, iface=iface) for i, p in enumerate(pkts)]


def _interleaved(*streams: list[pg.Rec]) -> list[pg.Rec]:
    """Records of several interfaces in turns, each one a little later than the one before."""
    out = [r for group in zip(*streams, strict=True) for r in group]
    return [pg.Rec(r.data, T0 + i * 333_000, r.orig_len, r.iface) for i, r in enumerate(out)]


def _ng(recs: list[pg.Rec], ifaces: list[pg.Iface], big: bool = False, extra: dict[int, bytes] | None = None) -> bytes:
    """One section; ``extra`` puts raw blocks before the record of that index."""
    assert all(i < len(recs) for i in extra or {}), "a raw block after the last record"
    out = [pg.pcapng_section(ifaces, big)]
    for i, r in enumerate(recs):
        out.append((extra or {}).get(i, b""))
        out.append(pg.pcapng_packet(r, ifaces[r.iface], big))
    return b"".join(out)


def _pcapng_cases() -> dict[str, bytes]:
    eth, sll, null = pg.ether, pg.sll, pg.null
    E = pg.Iface(1)
    arp = eth(b"\x00" * 28, ethertype=0x0806)
    return {
        "big_endian": _ng(_recs([eth(p) for p in _IP]), [E], big=True),
        "two_sections": _ng(_recs([eth(p) for p in _IP[:3]]), [E])
        + _ng(_recs([sll(p) for p in _IP[3:]], start=T0 + 9_000_000), [pg.Iface(113, 9)], big=True),
        "interleaved_interfaces": _ng(
            _interleaved(
                _recs([eth(p) for p in _IP]),
                _recs([sll(p) for p in _IP2], iface=1),
                _recs([null(p) for p in _IP3], iface=2),  # no fused decode: the Python decoder, called from C
            ),
            [E, pg.Iface(113, 9), pg.Iface(0, 0x80 | 20)],
        ),
        "tsresol_9": _ng(_recs([eth(p) for p in _IP], gap=1), [pg.Iface(1, 9)]),
        "tsresol_pow2": _ng(_recs([eth(p) for p in _IP], gap=977), [pg.Iface(1, 0x80 | 30)]),
        # Fine resolutions reach 64 bits of units within seconds: clocks that count from boot (small times also keep
        # each nanosecond visible in a flow's start_time, a float), or from an if_tsoffset.
        "tsresol_pow2_63": _ng(_recs(_IP, start=400_000_001, gap=3), [pg.Iface(101, 0x80 | 63)]),
        "tsresol_ps": _ng(_recs(_IP, start=12_345_678, gap=7), [pg.Iface(101, 12)]),
        "tsresol_ps_offset": _ng(_recs(_IP, start=T_OFF + 12_345_678), [pg.Iface(101, 12, T_OFF // 10**9)]),
        "tsresol_beyond_64_bits": _ng(_recs(_IP, start=T_OFF, gap=0), [pg.Iface(101, 0x80 | 100, T_OFF // 10**9)]),
        "tsoffset": _ng(
            _interleaved(_recs([eth(p) for p in _IP]), _recs(_IP2, iface=1)),
            [pg.Iface(1, None, 1_600_000_000), pg.Iface(101, 9, -86_400)],
        ),
        "before_1970": _ng(_recs([eth(p) for p in _IP], start=-5 * 10**17), [pg.Iface(1, 9, -(10**9))]),
        "undescribed_interface": _ng(_recs([eth(p) for p in _IP]), [E], extra={2: _epb_of(3, eth(_IP2[0]))}),
        "unsupported_link": _ng(
            _interleaved(_recs([eth(p) for p in _IP]), _recs([b"\x00" * 8 + p for p in _IP2], iface=1)),
            [E, pg.Iface(147)],
        ),
        "simple_packet_blocks": _ng(_recs([eth(p) for p in _IP[:2]]), [pg.Iface(1, None, None, 64)])
        + b"".join(pg.pcapng_packet(r, E, simple=True) for r in _recs([eth(p) for p in _IP[2:]])),
        "other_blocks": _ng(
            _recs([eth(p) for p in _IP]),
            [E],
            extra={
                1: pg.pcapng_block(4, b"\x00\x00\x00\x00"),  # name resolution
                2: pg.pcapng_block(5, struct.pack("<IIIxxxx", 0, 0, 0)),  # interface statistics
                3: pg.pcapng_block(0x40000BAD, b"custom"),
                4: pg.pcapng_block(2, struct.pack("<HHIIII", 0, 0, 0, 1, 0, 0)),  # obsolete packet block
            },
        ),
        "short_and_damaged_epbs": _ng(
            _recs([eth(p) for p in _IP]),
            [E],
            extra={
                1: pg.pcapng_block(6, b"\x00" * 12),  # too short for its fields
                2: pg.pcapng_block(6, struct.pack("<IIIII", 0, 0, 0, 500, 500) + b"\x00" * 20),  # caplen > block
                # caplen reaching 4 bytes into the trailing block length; then 3 into the padding, which is read
                3: pg.pcapng_block(6, struct.pack("<IIIII", 0, 0, 0, 64, 64) + eth(_IP2[0])[:60]),
                4: pg.pcapng_block(6, struct.pack("<IIIII", 0, 0, 0, 64, 64) + eth(_IP2[1])[:61]),
            },
        ),
        "bad_block_length": _ng(_recs([eth(p) for p in _IP]), [E]) + struct.pack("<II", 6, 13) + b"\x00" * 40,
        "cut_in_block_header": _ng(_recs([eth(p) for p in _IP]), [E]) + struct.pack("<II", 6, 64)[:5],
        "cut_in_block": _ng(_recs([eth(p) for p in _IP]), [E])[:-9],
        "cut_in_section_header": _ng(_recs([eth(p) for p in _IP]), [E]) + pg.pcapng_section([E])[:20],
        # 2^62 microseconds: beyond vocab.TS_NS_MAX (2116), clamped with a warning (the engine leaves them to Python)
        "timestamp_clamped": _ng(
            [*_recs([eth(p) for p in _IP[:3]]), *_recs([eth(p) for p in _IP[3:]], start=(1 << 62) * 1000)], [E]
        ),
        "offset_clamped": _ng(_recs([eth(p) for p in _IP], start=T0 + 9 * 10**18), [pg.Iface(1, None, 9 * 10**9)]),
        "not_tcp_clamped": _ng(_recs([eth(p) for p in _IP]), [E], extra={3: _epb_of(0, arp, 1 << 62)}),
        # a conversation whose two sides are on two interfaces 9e18 ns apart (if_tsoffset -/+4.5e9 s): every time
        # difference fits int64 (TS_NS_MAX), the sums of RTT samples do not (the engine's are 128 and 192 bits)
        "sides_9e18_ns_apart": _far_apart(4_500_000_000),
        # the same at -/+5e18 ns: beyond TS_NS_MAX both ways, clamped (C subtracted them with undefined behaviour)
        "sides_1e19_ns_apart": _far_apart(5_000_000_000),
    }


def _far_apart(offset_s: int, exchanges: int = 4) -> bytes:
    """A handshake and ``exchanges`` data segments with their ACKs; the client's packets on interface 0 at
    -``offset_s`` seconds (its if_tsoffset), the server's on interface 1 at +``offset_s``."""
    c, s = "10.0.0.1", "10.0.0.2"
    pkts = [
        (0, pg.ipv4(pg.tcp(40000, 80, 1000, 0, pg.SYN, 64240, pg.opt_mss(1460)), c, s)),
        (1, pg.ipv4(pg.tcp(80, 40000, 5000, 1001, pg.SYN | pg.ACK, 65160, pg.opt_mss(1460)), s, c)),
        (0, pg.ipv4(pg.tcp(40000, 80, 1001, 5001, pg.ACK, 502), c, s)),
    ]
    seq = 1001
    for _ in range(exchanges):
        pkts.append((0, pg.ipv4(pg.tcp(40000, 80, seq, 5001, pg.PSH | pg.ACK, 502, payload=b"x" * 100), c, s)))
        seq += 100
        pkts.append((1, pg.ipv4(pg.tcp(80, 40000, 5001, seq, pg.ACK, 255), s, c)))
    recs = [pg.Rec(p, (2 * side - 1) * offset_s * 10**9 + k * 1_000, iface=side) for k, (side, p) in enumerate(pkts)]
    return _ng(recs, [pg.Iface(101, None, -offset_s), pg.Iface(101, None, offset_s)])


def _epb_of(iface: int, data: bytes, units: int = 0) -> bytes:
    """An enhanced packet block naming ``iface``, its timestamp ``units`` as written."""
    fields = struct.pack("<IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
    return pg.pcapng_block(6, fields + data)


PCAPNG_CASES = sorted(_pcapng_cases())


@pytest.mark.parametrize("name", PCAPNG_CASES)
def test_built_pcapng_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(_assert_same(_write(tmp_path, _pcapng_cases()[name], name + ".pcapng"), monkeypatch))
    warnings = " | ".join(doc["stats"]["warnings"])
    expect = {
        "undescribed_interface": "names interface 3, which was never described",
        "unsupported_link": "147",
        "bad_block_length": "damaged pcapng block (type 0x6, length 13)",
        "cut_in_block_header": "cut inside a pcapng block header",
        "cut_in_block": "cut in the middle of a pcapng block",
        "cut_in_section_header": "cut inside a section header",
        "timestamp_clamped": "frame 4: timestamp after 2116-02-20 23:53:38 (damaged?); read as that moment",
        "offset_clamped": "frame 1: timestamp after 2116-02-20 23:53:38 (damaged?); read as that moment",
        "not_tcp_clamped": "frame 4: timestamp after 2116-02-20 23:53:38 (damaged?); read as that moment",
        "sides_1e19_ns_apart": "frame 1: timestamp before 1823-11-12 00:06:21 (damaged?); read as that moment",
    }
    assert (expect[name] in warnings) if name in expect else not warnings, warnings
    assert doc["flows"]
    skipped = doc["stats"]["skipped"]
    if name == "short_and_damaged_epbs":
        assert skipped == {"malformed": 3}
        assert doc["stats"]["frames"] == 9
    if name == "two_sections":
        assert doc["stats"]["linktypes"] == {"0": 1, "1": 113}
    if name == "interleaved_interfaces":
        assert len(doc["flows"]) == 3
    if name == "simple_packet_blocks":
        assert doc["stats"]["tcp_segments"] == 5
    if name.startswith("sides_"):  # four RTT samples of 9e18 ns or more: their sum is beyond int64
        assert doc["flows"][0]["c2s"]["rtt"]["avg_ms"] >= 9e12


def test_built_pcapng_walked_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine.feed_pcapng walks the enhanced packet blocks of described interfaces itself: Python reads only the
    other blocks (a regression to the Python walk would still agree, only slowly)."""
    from tcptrace import _engine
    from tcptrace.capture import _PcapngWalk, open_capture

    returned: list[int] = []
    step = _PcapngWalk.step

    def counting(walk: _PcapngWalk) -> Any:
        packet = step(walk)
        if packet is not None:
            returned.append(packet[0])
        return packet

    monkeypatch.setattr(_PcapngWalk, "step", counting)
    python_frames = {  # the frames Python decodes: SPBs, an interface whose timestamp scale is beyond 64 bits
        "interleaved_interfaces": [],
        "big_endian": [],
        "two_sections": [],
        "before_1970": [],
        "tsoffset": [],
        "tsresol_pow2_63": [],  # 128-bit product and division
        "tsresol_ps": [],
        "tsresol_beyond_64_bits": [1, 2, 3, 4, 5],
        "simple_packet_blocks": [3, 4, 5],
        "timestamp_clamped": [4, 5],  # Python clamps them (with the warning)
        "sides_9e18_ns_apart": [],
    }
    for name, frames in python_frames.items():
        returned.clear()
        cap = open_capture(_write(tmp_path, _pcapng_cases()[name], name + ".pcapng"))
        eng = _engine.Engine(*stats._engine_tables())
        cap.feed(eng)
        assert cap.stats.tcp_segments == {"interleaved_interfaces": 15, "tsoffset": 10, "sides_9e18_ns_apart": 11}.get(
            name, 5
        ), name
        assert returned == frames, name


def test_pcapng_timestamps_clamped_the_same_from_a_file_or_a_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timestamps beyond vocab.TS_NS_MAX are clamped by the reader, the one place both engines take them from: the
    engine reads such a capture itself (it stopped with OverflowError before, and summarize() read a file again in
    Python, a pipe was an error), and a file and a stream give the same result both ways."""
    from tcptrace import _engine
    from tcptrace.capture import open_capture

    for name in ("timestamp_clamped", "offset_clamped", "sides_1e19_ns_apart"):
        path = _write(tmp_path, _pcapng_cases()[name], name + ".pcapng")
        open_capture(path).feed(_engine.Engine(*stats._engine_tables()))
        ref = _assert_same(path, monkeypatch)
        assert ref.startswith("{")
        for engine in ("python", "c"):
            monkeypatch.setenv("TCPTRACE_ENGINE", engine)
            with open(path, "rb") as f:
                summaries, cap_stats = stats.summarize(f)
            assert (
                json.dumps({"flows": [s.to_dict() for s in summaries], "stats": cap_stats.as_dict()}, sort_keys=True)
                == ref
            )


def test_engine_add_refuses_a_timestamp_outside_the_readers_range() -> None:
    """Engine.add takes Segments from the reader, whose timestamps lie within vocab.TS_NS_MAX: one from elsewhere
    outside it is refused, so no time difference in the engine can overflow."""
    from tcptrace import _engine
    from tcptrace.capture import open_capture
    from tcptrace.vocab import TS_NS_MAX

    seg = next(iter(open_capture(SAMPLES / "echo_ipv4.pcap")))
    eng = _engine.Engine(*stats._engine_tables())
    for ts in (TS_NS_MAX, -TS_NS_MAX):
        seg.ts_ns = ts
        eng.add(seg)
    for ts in (TS_NS_MAX + 1, -TS_NS_MAX - 1, 1 << 63):
        seg.ts_ns = ts
        with pytest.raises((ValueError, OverflowError)):
            eng.add(seg)


def test_built_pcapng_from_a_slow_pipe_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read a few bytes at a time, so blocks arrive in pieces: the same as from the file."""
    import io

    class Slow(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = data

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self._data[: min(len(b), 13)]
            self._data = self._data[len(chunk) :]
            b[: len(chunk)] = chunk
            return len(chunk)

    for name in (
        "interleaved_interfaces",
        "two_sections",
        "other_blocks",
        "cut_in_block",
        "cut_in_section_header",
        "timestamp_clamped",
        "sides_1e19_ns_apart",
    ):
        data = _pcapng_cases()[name]
        docs = []
        for engine in ("python", "c"):
            monkeypatch.setenv("TCPTRACE_ENGINE", engine)
            summaries, cap_stats = stats.summarize(io.BufferedReader(Slow(data), buffer_size=13))  # type: ignore[arg-type]
            docs.append(json.dumps({"flows": [s.to_dict() for s in summaries], "stats": cap_stats.as_dict()}))
        assert docs[0] == docs[1], name


# --- hostile and tunnelled frames (the decoders' cases, tests/test_decode.py) ------------------------------------


def _decode_cases() -> dict[str, bytes]:
    """Built by code: tunnels Wireshark follows and frames it does not decode as TCP; every encapsulation nested
    once, at the decoder's bound, one past it and thousands of levels deep."""
    from test_decode import DEEPEST

    cases = {
        "tunnels": pg.pcap(pg.records(pg.tunnel_frames())),
        "bogus_headers": pg.pcap(pg.records(pg.bogus_header_frames())),
    }
    for kind, deepest in DEEPEST.items():
        frames = [pg.nested(kind, n) for n in (1, deepest, deepest + 1, 3 * deepest)]
        cases["nested_" + kind] = pg.pcap(pg.records(frames))
    return cases


DECODE_CASES = sorted(_decode_cases())


@pytest.mark.parametrize("name", DECODE_CASES)
def test_decode_cases_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads(_assert_same(_write(tmp_path, _decode_cases()[name]), monkeypatch))
    assert doc["flows"]


@pytest.mark.parametrize(
    "name",
    ["lossy_bulk.pcap", "vlan.pcap", "echo_snaplen.pcap", "echo_ipv6.pcapng", "built:interleaved_interfaces",
     "built:two_sections", "built:other_blocks", "decode:tunnels", "decode:nested_l2tp", "decode:bogus_headers"],
)  # fmt: skip
def test_damaged_bytes_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random byte damage anywhere after the file header (seeded): never a crash, and the same accounting,
    warnings and flows both ways."""
    import random

    if name.startswith("built:"):
        name = name[6:] + ".pcapng"
        data = _pcapng_cases()[name[:-7]]
    elif name.startswith("decode:"):
        name = name[7:] + ".pcap"
        data = _decode_cases()[name[:-5]]
    else:
        data = (SAMPLES / name).read_bytes()
    rng = random.Random(name)
    for i in range(25):
        buf = bytearray(data)
        for _ in range(rng.choice([1, 5, 40])):
            pos = rng.randrange(24, len(buf))
            buf[pos] = rng.randrange(256)
        if i % 5 == 0:
            del buf[rng.randrange(24, len(buf)) :]
        _assert_same(_write(tmp_path, bytes(buf), f"d{i}{Path(name).suffix}"), monkeypatch)


@pytest.mark.parametrize("first", ["syn", "syn_ack", "data"])
def test_a_connection_to_itself_identical(first: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Packets from an address and port to themselves (fuzzing found one: a SYN+ACK+FIN to itself): Zeek tells a
    packet's side by comparing its source with the originator's endpoint, so every packet is the originator's, as
    the Python model says; the C engine told them apart by stream direction and named the server the originator."""
    me = "10.0.0.9"
    flags = {"syn": pg.SYN, "syn_ack": pg.SYN | pg.ACK, "data": pg.ACK | pg.PSH}[first]
    pkts = [
        pg.tcp(5000, 5000, 100, 900, flags, payload=b"" if first != "data" else b"hi"),
        pg.tcp(5000, 5000, 900, 101, pg.SYN | pg.ACK),
        pg.tcp(5000, 5000, 101, 901, pg.ACK, payload=b"hello"),
        pg.tcp(5000, 5000, 106, 901, pg.FIN | pg.ACK),
        pg.tcp(5000, 5000, 901, 107, pg.FIN | pg.ACK),
    ]
    path = _write(tmp_path, pg.pcap(pg.records([pg.ether(pg.ipv4(p, me, me)) for p in pkts])))
    doc = json.loads(_assert_same(path, monkeypatch))
    assert doc["flows"][0]["zeek"]["orig"] in ("client", "server")
