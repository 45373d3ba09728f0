"""The frame decoders against Wireshark on hostile and tunnelled frames built by code (tests/pcapgen.py).

tshark is the oracle where it is installed (these tests run it; without it the oracle half skips with a reason):
the frames tshark calls TCP are the frames we decode, with the same ``tcp.stream``. Every case also runs
through both engines (TCPTRACE_ENGINE=python and =c), which must agree.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pcapgen as g
import pytest
from conftest import engines

from tcptrace import stats
from tcptrace.capture import MAX_LAYERS, MAX_VLAN_TAGS, open_capture
from tcptrace.flow import FlowTracker
from tcptrace.model import SkipReason

TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed: no Wireshark oracle to compare with")


def tshark_streams(path: Path) -> dict[int, int]:
    """frame -> tcp.stream of every frame tshark dissects as TCP (with a stream)."""
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "tcp.stream"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split("\t") for line in out.splitlines())
    return {int(frame): int(stream) for frame, stream in rows if stream}


def our_streams(path: Path) -> tuple[dict[int, int], list[tuple[int, SkipReason]]]:
    cap = open_capture(path, keep_skipped=True)
    tracker = FlowTracker()
    streams = {}
    for seg in cap:
        tracker.feed(seg)
        streams[seg.frame] = seg.stream
    return streams, list(cap.stats.skipped_frames or [])


def both_engines(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The flow documents and accounting from the Python reference and from the C engine: they must be equal."""
    docs = []
    for engine in engines():  # decided before TCPTRACE_ENGINE is set (it was read after: C never ran)
        monkeypatch.setenv("TCPTRACE_ENGINE", engine)
        summaries, cap_stats = stats.summarize(path)
        docs.append(json.dumps({"flows": [s.to_dict() for s in summaries], "stats": cap_stats.as_dict()}))
    monkeypatch.delenv("TCPTRACE_ENGINE")
    assert all(d == docs[0] for d in docs)
    result: dict[str, object] = json.loads(docs[0])
    return result


def _write(tmp_path: Path, frames: list[bytes], name: str = "t.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(g.pcap(g.records(frames)))
    return path


# --- nesting -------------------------------------------------------------------------------------------------

# The deepest nesting Wireshark still decodes as TCP: fewer than MAX_LAYERS (500) protocol layers before TCP,
# "frame" included. An Ethernet frame brings frame, eth, ethertype and the innermost IP header (4); each level
# adds its layers (tshark's frame.protocols): IP-in-IP 1, GRE 2 (ip, gre), GRE + Ethernet 4, VXLAN 5 (ip, udp,
# vxlan, eth, ethertype), an 802.1Q tag 2 (vlan, ethertype) but at most MAX_VLAN_TAGS of them per frame.
DEEPEST = {
    "ipip": 495,
    "ip6in6": 495,
    "gre": 247,
    "gre_eth": 123,
    "gre_mpls": 165,
    "erspan_ii": 99,
    "erspan_i": 99,
    "pptp": 165,
    "vxlan": 99,
    "gtp_u": 165,
    "geneve": 165,
    "l2tp": 123,
    "ah": 247,
    "ieee8021ad": 494,  # pairs of S-tags are one layer pair (packet-ieee8021ah.c)
    "ieee8021q": MAX_VLAN_TAGS,
    "vntag": 247,
    "pbb": 247,  # ieee8021ah, ethertype
    "fabricpath": 247,  # eth, cfp
    "ayiya": 165,  # ip, udp, ayiya
}


def test_layer_bounds_are_wiresharks() -> None:
    assert (MAX_LAYERS, MAX_VLAN_TAGS) == (500, 20)  # prefs.c gui.max_tree_depth; packet-vlan.c
    assert set(DEEPEST) == set(g.ENCAPSULATIONS)


@pytest.mark.parametrize("kind", sorted(DEEPEST))
def test_nesting_at_the_bound_and_one_past(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a TCP SYN inside DEEPEST[kind] levels of one encapsulation is decoded; one level more is
    counted as too deeply nested, never an exception."""
    deepest = DEEPEST[kind]
    path = _write(tmp_path, [g.nested(kind, deepest), g.nested(kind, deepest + 1), g.nested(kind, 1)])
    streams, skipped = our_streams(path)
    assert streams == {1: 0, 3: 0}
    assert skipped == [(2, SkipReason.TOO_DEEP)]
    doc = both_engines(path, monkeypatch)
    assert doc["stats"]["skipped"] == {"too_deep": 1}  # type: ignore[index]
    if TSHARK is not None:
        assert tshark_streams(path) == streams


@pytest.mark.parametrize(("kind", "levels"), [("ipip", 3000), ("gre_eth", 1500), ("ieee8021ad", 5000)])
def test_thousands_of_levels_cost_no_recursion(kind: str, levels: int, tmp_path: Path) -> None:
    """Built by code: frames nested far beyond the bound (up to ~60 KB) are counted, not a RecursionError."""
    _, skipped = our_streams(_write(tmp_path, [g.nested(kind, levels)]))
    assert skipped == [(1, SkipReason.TOO_DEEP)]


@needs_tshark
def test_mixed_nesting_at_the_bound_equals_tshark(tmp_path: Path) -> None:
    """Built by code: tunnels of different kinds inside one another count their layers as Wireshark does."""
    inner = g.nested("vxlan", 20)  # an Ethernet frame: 4 + 100 layers
    packet = inner[14:]
    for kind in ("gre_eth", "l2tp", "ipip", "pptp"):
        for _ in range(20):
            packet = g.ENCAPSULATIONS[kind](packet)
    frames = [g.ether(packet)]  # 4 + 100 + 80 + 80 + 20 + 60 = 344 layers
    for extra in range(150, 160):
        p = packet
        for _ in range(extra):
            p = g.ENCAPSULATIONS["ipip"](p)
        frames.append(g.ether(p))
    path = _write(tmp_path, frames)
    streams, skipped = our_streams(path)
    assert 1 in streams
    assert skipped
    assert tshark_streams(path) == streams


# --- tunnels and headers Wireshark follows ----------------------------------------------------------------------


def test_tunnels_wireshark_follows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: the same frames are TCP as in tshark, with the same tcp.stream; IPComp has its reason."""
    path = _write(tmp_path, g.tunnel_frames())
    streams, skipped = our_streams(path)
    assert sorted(set(streams.values())) == list(range(8))
    assert (6, SkipReason.COMPRESSED) in skipped
    assert (7, SkipReason.COMPRESSED) in skipped
    assert len(streams) + len(skipped) == len(g.tunnel_frames())
    doc = both_engines(path, monkeypatch)
    assert [f["packets"] for f in doc["flows"]] == [{"c2s": 1, "s2c": 1}] * 8  # type: ignore[index]
    if TSHARK is not None:
        assert tshark_streams(path) == streams


def test_gre_in_udp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """GRE-in-UDP (RFC 8086, UDP port 4754, as packet-gre.c registers it and Zeek decodes it): the inner TCP is a
    stream, found whichever side has the port; a port pair without it stays "not TCP"."""
    syn, synack = g._conn(1)
    frames = [
        g._outer(g.udp(g.gre(syn), 50343, 4754), 17),
        g._outer(g.udp(g.gre(synack), 4754, 50343), 17),
        g._outer(g.udp(g.gre(syn), 50343, 4755), 17),
    ]
    path = _write(tmp_path, frames)
    streams, skipped = our_streams(path)
    assert streams == {1: 0, 2: 0}
    assert skipped == [(3, SkipReason.NOT_TCP)]
    doc = both_engines(path, monkeypatch)
    assert [f["packets"] for f in doc["flows"]] == [{"c2s": 1, "s2c": 1}]  # type: ignore[index]
    if TSHARK is not None:
        assert tshark_streams(path) == streams


# --- TCP headers Wireshark dissects only in part --------------------------------------------------------------

_ANALYSIS = ("retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
             "ack_lost_segment", "duplicate_ack", "window_update", "window_full", "zero_window", "zero_window_probe",
             "zero_window_probe_ack", "keep_alive", "keep_alive_ack", "reused_ports")  # fmt: skip


def _tshark_rows(path: Path) -> dict[int, dict[str, str]]:
    assert TSHARK is not None
    fields = ["frame.number", "tcp.stream", "tcp.seq", "tcp.ack", "tcp.len", "tcp.window_size", "tcp.flags"]
    fields += ["tcp.completeness", *(f"tcp.analysis.{a}" for a in _ANALYSIS)]
    out = subprocess.run(
        [TSHARK, "-r", str(path), "-T", "fields", *(x for f in fields for x in ("-e", f))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {}
    for line in out.splitlines():
        r = line.split("\t")
        if r[1]:
            row = dict(zip(("stream", "seq", "ack", "len", "win", "flags", "completeness"), r[1:8], strict=True))
            row["analysis"] = ",".join(a for a, v in zip(_ANALYSIS, r[8:], strict=True) if v)
            rows[int(r[0])] = row
    return rows


def test_bogus_headers_get_their_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a TCP header with a data offset below 5 words or beyond the IP payload keeps its
    tcp.stream (so later streams are numbered as in Wireshark), counts as a packet of its stream, and gets what
    packet-tcp.c gives it: a bogus offset is analysed (its flags are not shown), a short segment is not."""
    from tcptrace.analysis import analysis_names
    from tcptrace.engine import Pipeline
    from tcptrace.vocab import HDR_BOGUS_LENGTH, HDR_SHORT_SEGMENT

    path = _write(tmp_path, g.bogus_header_frames())
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    pipeline = Pipeline(path)
    ours = {}
    completeness_after = {}
    for seg in pipeline:
        ours[seg.frame] = seg
        completeness_after[seg.frame] = pipeline.flow(seg.stream).summary.completeness
    streams = {frame: seg.stream for frame, seg in ours.items()}
    assert list(streams.values()) == [0] * 8 + [1] * 3 + [2] * 3 + [3] * 2 + [4] * 3 + [2] * 4
    assert 17 not in streams
    errors = {frame: seg.header_error for frame, seg in ours.items() if seg.header_error}
    bogus, short = HDR_BOGUS_LENGTH, HDR_SHORT_SEGMENT
    assert errors == {5: bogus, 8: short, 9: bogus, 12: bogus, 15: short, 21: bogus, 22: short}
    assert (ours[5].len, ours[9].len, ours[8].len, ours[8].seq) == (58, 20, 0, 1151)  # short: raw numbers
    assert analysis_names(ours[6].analysis) == ("out_of_order",)  # the bogus segment's 58 bytes were analysed
    doc = both_engines(path, monkeypatch)
    flows = doc["flows"]
    assert [f["packets"] for f in flows][:2] == [{"c2s": 6, "s2c": 2}, {"c2s": 2, "s2c": 1}]  # type: ignore[index]
    assert doc["stats"]["skipped"] == {"malformed": 1}  # type: ignore[index]
    if TSHARK is None:
        return
    theirs = _tshark_rows(path)
    assert {frame: int(row["stream"]) for frame, row in theirs.items()} == streams
    blanks = {0: (), bogus: ("ack", "win", "flags"), short: ("len",)}
    for frame, seg in ours.items():
        row = theirs[frame]
        mine = {"seq": seg.seq, "ack": seg.ack, "len": seg.len, "win": seg.win, "flags": f"0x{seg.flags:04x}"}
        assert tuple(k for k in mine if row[k] == "") == blanks[seg.header_error], frame
        assert {k: str(v) for k, v in mine.items() if row[k]} == {k: row[k] for k in mine if row[k]}, frame
        assert ",".join(analysis_names(seg.analysis)) == row["analysis"], frame
    # tcp.completeness as tshark shows it on a packet is its stream's value before that packet: ours after the
    # stream's previous packet
    previous: dict[int, int] = {}
    for frame, seg in ours.items():
        if seg.stream in previous:
            assert str(completeness_after[previous[seg.stream]]) == theirs[frame]["completeness"], frame
        previous[seg.stream] = frame


# --- PBB, Cisco FabricPath, AYIYA (Zeek decodes them too) -----------------------------------------------------


def encap_frames() -> list[bytes]:
    """Built by code: connections through 802.1ah (alone, behind an 802.1Q tag, after an 802.1ad B-tag),
    FabricPath (alone, behind 802.1Q, inside VXLAN and GRE), AYIYA (IPv6 and IPv4 inside, GRE inside, either
    port), and frames Wireshark leaves without TCP: a PBB payload with an 802.3 length, an AYIYA echo request, an
    AYIYA whose next header names the other IP version, FabricPath with a 0x9100 tag."""
    c_pbb, c_fp, c_ay4, c_ay6, c_aygre, lost = (g._conn(n, v6=n == 4) for n in range(1, 7))

    def ay(packet: bytes, nxt: int, sport: int = 40001, dport: int = 5072, opcode: int = 1) -> bytes:
        return g._outer(g.udp(g.ayiya(packet, nxt, opcode), sport, dport), 17)

    return [
        g.pbb(g.ether(c_pbb[0])),
        g.fabricpath(g.ether(c_fp[0])),
        ay(c_ay4[0], 4),
        ay(c_ay6[0], 41, 5072, 40001),
        ay(g.gre(c_aygre[0]), 47),
        g.ether(b"\x00\x05\x88\xe7" + g.pbb(g.ether(c_pbb[1]))[14:], 0x8100),  # 802.1Q tag, then PBB
        g.ether(b"\x00\x05\x88\xe7" + g.pbb(g.ether(c_pbb[0]))[14:], 0x88A8),  # B-tag and I-TAG: one header
        g.fabricpath(g.ether(c_fp[1]), tag=0x8100),
        g._outer(
            g.udp(b"\x08\x00\x00\x00\x00\x00\x05\x00" + g.fabricpath(g.ether(c_fp[0])), 5555, 4789), 17
        ),  # in VXLAN
        g._outer(g.gre(g.fabricpath(g.ether(c_fp[1])), 0x6558), 47),  # ... and inside GRE
        ay(c_ay4[1], 4, 5072, 5072),
        ay(c_ay6[1], 41),
        ay(g.gre(c_aygre[1]), 47, 5072, 40001),
        # no TCP for Wireshark:
        g.pbb(
            g.ether(lost[0])[:12] + struct.pack("!H", len(lost[0]) + 8) + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + lost[0]
        ),
        ay(lost[0], 4, opcode=2),  # echo request: no payload dissected
        ay(lost[0], 41),  # an IPv4 packet where AYIYA says IPv6
        g.fabricpath(g.ether(lost[1]), tag=0x9100),  # not a tag dissect_fp_heur looks behind
    ]


def test_pbb_fabricpath_ayiya(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: the encapsulations of issue 14 that Zeek decodes and Wireshark decodes by default are TCP
    with tshark's tcp.stream and tcp.len (FabricPath's trailing FCS is not payload); the frames tshark does not
    decode as TCP are counted under a reason; both engines agree."""
    frames = encap_frames()
    path = _write(tmp_path, frames)
    streams, skipped = our_streams(path)
    assert streams == {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 0, 7: 0, 8: 1, 9: 1, 10: 1, 11: 2, 12: 3, 13: 4}
    assert skipped == [
        (14, SkipReason.NOT_IP),
        (15, SkipReason.NOT_TCP),
        (16, SkipReason.NOT_IP),
        (17, SkipReason.NOT_IP),
    ]
    doc = both_engines(path, monkeypatch)
    assert [f["packets"] for f in doc["flows"]] == [{"c2s": 2, "s2c": 1}, {"c2s": 2, "s2c": 2}] + [  # type: ignore[index]
        {"c2s": 1, "s2c": 1}
    ] * 3
    if TSHARK is not None:
        assert tshark_streams(path) == streams
        assert {f: r["len"] for f, r in _tshark_rows(path).items()} == dict.fromkeys(streams, "0")


def test_fabricpath_fcs_bounds_the_inner_frame(tmp_path: Path) -> None:
    """Built by code: the FabricPath FCS is cut from the inner frame, so an inner IP length that claims those 4
    bytes is trimmed like any IP length beyond its frame, and the TCP payload excludes them."""
    data = g.ipv4(g.tcp(40000, 80, 1000, 1, g.ACK, payload=b"hello"), "10.9.0.1", "10.9.0.2")
    path = _write(tmp_path, [g.fabricpath(g.ether(data)), g.fabricpath(g.ether(data[:-5] + b"hel"))])
    cap = open_capture(path, keep_skipped=True)
    assert [(s.frame, s.len, s.payload) for s in cap] == [(1, 5, b"hello"), (2, 3, b"hel")]


# --- outer-IP fragments of tunnels ------------------------------------------------------------------------------


def _vxlan(packet: bytes) -> bytes:
    return g.udp(b"\x08\x00\x00\x00\x00\x00\x05\x00" + g.ether(packet), 5555, 4789)


def fragment_frames() -> list[bytes]:
    """Built by code: tunnels carrying TCP whose outer IPv4/IPv6 datagram was fragmented: VXLAN in order, GRE
    out of order (last fragment first), IPv6 GRE, a duplicate fragment, a datagram that never completes, plain
    fragmented UDP (reassembled: not TCP), and a fragmented TCP segment without a tunnel (the first-fragment rule)."""
    data = b"x" * 1200
    c1, c2, c3, c4, c5 = (
        [g.ipv4(g.tcp(40000 + n, 80, 1000, 1, g.ACK | g.PSH, payload=data), f"10.{n}.0.1", f"10.{n}.0.2")]
        for n in range(1, 6)
    )
    vx = g.fragments4(_vxlan(c1[0]), 17, [600, 400], ip_id=0x1111)
    gre = g.fragments4(g.gre(c2[0]), 47, [480, 480], ip_id=0x2222)
    gre6 = g.fragments6(g.gre(c3[0]), 47, [640], ident=0x33333333)
    lost = g.fragments4(g.gre(c4[0]), 47, [600], ip_id=0x4444)
    udp = g.fragments4(g.udp(b"u" * 1000, 53, 53), 17, [504], ip_id=0x5555)
    plain = g.fragments4(c5[0][20:], 6, [600], ip_id=0x6666, src="10.5.0.1", dst="10.5.0.2")
    e, e6 = g.ether, (lambda p: g.ether(p, 0x86DD))
    return [
        e(vx[0]), e(vx[1]), e(vx[2]),  # 1-3: VXLAN, the segment in frame 3
        e(gre[2]), e(gre[0]), e(gre[0]), e(gre[1]),  # 4-7: last fragment first, a duplicate: segment in frame 7
        e6(gre6[0]), e6(gre6[1]),  # 8-9: IPv6
        e(lost[0]),  # 10: its last fragment never comes
        e(udp[0]), e(udp[1]),  # 11-12: reassembled UDP, not TCP
        e(plain[0]), e(plain[1]),  # 13-14: TCP fragmented directly: the first fragment is the segment
    ]  # fmt: skip


def test_outer_fragments_of_tunnels_are_reassembled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: the TCP segment inside a fragmented tunnel datagram appears in the frame that completes the
    datagram, with its whole length, as in tshark (ip.defragment); every other fragment is counted as one."""
    path = _write(tmp_path, fragment_frames())
    cap = open_capture(path, keep_skipped=True)
    segs = {s.frame: s for s in cap}
    assert {f: s.len for f, s in segs.items()} == {3: 1200, 7: 1200, 9: 1200, 13: 580}
    assert segs[7].payload == b"x" * 1200
    assert cap.stats.skipped_frames == [
        *((f, SkipReason.FRAGMENT) for f in (1, 2, 4, 5, 6, 8, 10, 11)),
        (12, SkipReason.NOT_TCP),
        (14, SkipReason.FRAGMENT),
    ]
    doc = both_engines(path, monkeypatch)
    assert doc["stats"]["skipped"] == {"fragment": 9, "not_tcp": 1}  # type: ignore[index]
    if TSHARK is not None:
        theirs = {f: (int(r["stream"]), int(r["len"])) for f, r in _tshark_rows(path).items()}
        # tshark reassembles the plain TCP datagram too and shows the segment in frame 14 with 1200 bytes; we keep
        # the first-fragment rule for TCP itself (docs/wireshark-differences.md #3): the tunnels agree exactly
        assert theirs.pop(14) == (3, 1200)
        streams, _ = our_streams(path)
        assert theirs == {f: (streams[f], s.len) for f, s in segs.items() if f != 13}


def test_fragment_table_is_bounded() -> None:
    """Pending datagrams, their bytes and their fragments are capped; the oldest pending datagram goes first."""
    from tcptrace import capture

    table = capture._Fragments()
    for ident in range(capture.MAX_PENDING_DATAGRAMS + 10):
        assert table.add((4, b"k", ident, 17), 0, True, b"a" * 8) is None
    assert len(table._pending) == capture.MAX_PENDING_DATAGRAMS
    assert table.dropped == 10
    assert (4, b"k", 0, 17) not in table._pending  # the oldest went first
    # a datagram of too many fragments is given up, and one cut by the snap length cannot complete
    for i in range(capture.MAX_FRAGMENTS_PER_DATAGRAM + 1):
        table.add((4, b"many", 1, 17), i * 8, True, b"b" * 8)
    assert (4, b"many", 1, 17) not in table._pending
    table.add((4, b"cut", 1, 17), 0, True, b"c" * 8)
    table.add((4, b"cut", 1, 17), 8, True, None)
    assert table.add((4, b"cut", 1, 17), 16, False, b"c" * 8) is None
    assert table._held <= capture.MAX_PENDING_FRAGMENT_BYTES


def test_cut_encapsulation_headers_are_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: frames cut inside a PBB I-TAG, a FabricPath header, an AYIYA header or the Ethernet header
    after FabricPath are counted as truncated (AYIYA: its header runs past the frame), never an exception."""
    syn = g._conn(1)[0]
    ay = g._outer(g.udp(g.ayiya(syn, 4), 40001, 5072), 17)
    frames = [
        g.pbb(g.ether(syn))[:24],  # inside the 18 bytes after the backbone EtherType
        g.fabricpath(g.ether(syn))[:26],  # the inner Ethernet header is cut
        ay[: 14 + 20 + 8 + 20],  # AYIYA identity and signature cut (the header claims 44 bytes)
        g.ether(b"\x00\x05\x88\xe7" + g.pbb(g.ether(syn))[14:30], 0x88A8),  # B-tag + I-TAG cut
    ]
    path = _write(tmp_path, frames)
    streams, skipped = our_streams(path)
    assert streams == {}
    assert skipped == [(n, SkipReason.TRUNCATED) for n in range(1, 5)]
    assert both_engines(path, monkeypatch)["stats"]["skipped"] == {"truncated": 4}  # type: ignore[index]
