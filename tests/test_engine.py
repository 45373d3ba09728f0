"""The C engine (tcptrace._engine) against the pure-Python reference: identical flow summaries and capture
accounting on every sample and corpus capture, on damaged files, and on random packet sequences (hypothesis).

The packets in the random tests are built by code (tests/pcapgen.py): synthetic fixtures, chosen to reach the
corners of packet-tcp.c's conditions (wraparound, zero windows, reused ports, hardware duplicates, snap-cut
options, IPv6 and link types the fused decode leaves to Python).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pcapgen as pg
import pytest
from conftest import CORPUS, SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    }
)


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
        seg = pg.tcp(sport, dport, seqs[(f, r)], acks[(f, 1 - r)], p["flags"], p["win"], opts, b"x" * p["len"])
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


def test_pcapng_and_gzip_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkts = pg.handshake_and_data()
    ng = pg.pcapng([pg.Rec(p, 1_700_000_000_000_000_000 + i * 1000) for i, p in enumerate(pkts)], [(101, 9)])
    _assert_same(_write(tmp_path, ng, "t.pcapng"), monkeypatch)
    _assert_same(_write(tmp_path, pg.gz(pg.pcap(pg.records(pkts), linktype=101)), "t.pcap.gz"), monkeypatch)


@pytest.mark.parametrize("name", ["lossy_bulk.pcap", "vlan.pcap", "echo_snaplen.pcap", "echo_ipv6.pcapng"])
def test_damaged_bytes_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random byte damage anywhere after the file header (seeded): never a crash, and the same accounting,
    warnings and flows both ways."""
    import random

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
