"""Following a stream (tcptrace.follow): the bytes each application read, built from captures written by code.

Each test states the segments it sends (sequence numbers, payload, flags) and what a receiver reads from them:
retransmissions once, out-of-order data in its place, the first copy of overlapping bytes, gaps with their kind
and frames, the SYN and FIN each taking one sequence number, and sequence numbers that wrap past 2**32. The
command line's formats are checked on the same captures (raw is binary-exact), and both engines follow alike.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pcapgen as g
import pytest
from click.testing import CliRunner
from conftest import SAMPLES, engines

from tcptrace.cli import main
from tcptrace.follow import Chunk, Gap, follow, reassemble, render_hex, render_text, to_dict

M = 0xFFFFFFFF
C, S = "10.0.0.1", "10.0.0.2"
CP, SP = 40000, 80


def c2s(seq: int, payload: bytes = b"", flags: int = g.ACK | g.PSH, ack: int = 5001) -> bytes:
    return g.ipv4(g.tcp(CP, SP, seq & M, ack & M, flags, payload=payload), C, S)


def s2c(seq: int, payload: bytes = b"", flags: int = g.ACK | g.PSH, ack: int = 1001) -> bytes:
    return g.ipv4(g.tcp(SP, CP, seq & M, ack & M, flags, payload=payload), S, C)


def handshake(isn_c: int = 1000, isn_s: int = 5000) -> list[bytes]:
    return [
        c2s(isn_c, flags=g.SYN, ack=0),
        s2c(isn_s, flags=g.SYN | g.ACK, ack=isn_c + 1),
        c2s(isn_c + 1, flags=g.ACK, ack=isn_s + 1),
    ]


def write(tmp_path: Path, packets: list[bytes], snap: dict[int, int] | None = None) -> Path:
    """An Ethernet pcap of ``packets`` (frame numbers from 1); ``snap`` cuts frame N's record to that many bytes
    of IP packet, as a snap length does (the original length stays on the record)."""
    recs = g.records([g.ether(p) for p in packets], gap_ns=1_300_000)
    for frame, keep in (snap or {}).items():
        r = recs[frame - 1]
        r.orig_len = len(r.data)
        r.data = r.data[: 14 + keep]
    path = tmp_path / "t.pcap"
    path.write_bytes(g.pcap(recs))
    return path


def test_in_order_both_directions_interleaved_in_capture_order(tmp_path: Path) -> None:
    cap = write(tmp_path, [
        *handshake(),
        c2s(1001, b"GET / HTTP/1.0\r\n\r\n"),              # 4
        s2c(5001, b"HTTP/1.0 200 OK\r\n", ack=1019),       # 5
        s2c(5018, b"\r\nhello", ack=1019),                 # 6
        c2s(1019, b"bye", ack=5025),                       # 7
    ])  # fmt: skip
    fs = follow(cap, 0)
    assert fs.payload("c2s") == (b"GET / HTTP/1.0\r\n\r\nbye", ())
    assert fs.payload("s2c").data == b"HTTP/1.0 200 OK\r\n\r\nhello"
    assert [(i.direction, i.frame, i.offset) for i in fs.items() if isinstance(i, Chunk)] == [
        ("c2s", 4, 0), ("s2c", 5, 0), ("s2c", 6, 17), ("c2s", 7, 18)]  # fmt: skip
    assert (fs.client, fs.server) == (f"{C}:{CP}", f"{S}:{SP}")


def test_retransmission_is_shown_once_with_every_frame_that_carried_it(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"hello"), c2s(1001, b"hello"), c2s(1001, b"hello world")])
    half = follow(cap, 0).c2s
    assert half.data == b"hello world"
    first, rest = half.chunks
    assert (first.data, first.frames) == (b"hello", (4, 5, 6))  # the first copy, then its two re-sends
    assert (rest.data, rest.frame, rest.offset) == (b" world", 6, 5)  # the new bytes of the longer re-send
    assert half.conflicts == ()
    assert half.gaps == ()


def test_out_of_order_data_is_placed_by_sequence_number(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1006, b"world"), c2s(1001, b"hello"), s2c(5001, b"ok", ack=1011)])
    fs = follow(cap, 0)
    assert fs.payload("c2s") == (b"helloworld", ())
    assert [(c.offset, c.frame) for c in fs.c2s.chunks] == [(0, 5), (5, 4)]
    # interleaved, both c2s chunks became readable at frame 5 (when the hole filled), before the server's reply
    assert [(i.direction, i.frame) for i in fs.items()] == [("c2s", 5), ("c2s", 4), ("s2c", 6)]


def test_overlap_with_different_bytes_keeps_the_first_copy_and_says_so(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"hello"), c2s(1001, b"heXXo"), c2s(1004, b"LO world")])
    half = follow(cap, 0).c2s
    assert half.data == b"hello world"
    assert [(c.offset, c.length, c.kept_frame, c.other_frame) for c in half.conflicts] == [
        (2, 2, 4, 5),  # "ll" kept from frame 4, "XX" from frame 5 dropped
        (3, 2, 4, 6),  # "lo" kept, "LO" dropped; frame 6's " world" is new and used
    ]
    text = "\n".join(render_text(follow(cap, 0)))
    assert "frames 4 and 5 carry different bytes (2 bytes); the first copy (frame 4) is shown" in text


def test_data_never_captured_is_a_lost_gap_between_its_neighbours(tmp_path: Path) -> None:
    cap = write(tmp_path, [
        *handshake(),
        c2s(1001, b"aaaaa"),                    # 4: offset 0
        c2s(1011, b"ccccc"),                    # 5: offset 10; 5..10 never captured
        s2c(5001, flags=g.ACK, ack=1016),       # 6: the server had it all
    ])  # fmt: skip
    half = follow(cap, 0).c2s
    assert half.data == b"aaaaaccccc"
    (gap,) = half.gaps
    assert (gap.offset, gap.length, gap.kind, gap.frames, gap.at) == (5, 5, "lost", (4, 5), 5)
    assert half.bytes_in("lost") == 5
    assert [type(i).__name__ for i in half.items] == ["Chunk", "Gap", "Chunk"]


def test_acknowledged_tail_never_captured_is_lost_up_to_the_fin(tmp_path: Path) -> None:
    cap = write(tmp_path, [
        *handshake(),
        c2s(1001, b"abc"),                           # 4: offset 0..3; 3..8 never captured
        c2s(1009, flags=g.FIN | g.ACK),              # 5: the FIN at offset 8
        s2c(5001, flags=g.ACK, ack=1010),            # 6: acknowledges the data and the FIN
    ])  # fmt: skip
    half = follow(cap, 0).c2s
    assert half.fin_offset == 8
    (gap,) = half.gaps
    assert (gap.offset, gap.length, gap.kind, gap.frames) == (3, 5, "lost", (4,))
    assert half.length == 8  # the FIN's sequence number is not a byte of data


def test_payload_cut_by_the_snap_length_is_a_gap_of_its_own_kind(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"0123456789" * 10), c2s(1101, b"tail")], snap={4: 40 + 30})
    half = follow(cap, 0).c2s
    assert half.data == b"0123456789" * 3 + b"tail"
    (gap,) = half.gaps
    assert (gap.offset, gap.length, gap.kind, gap.frames, gap.at) == (30, 70, "snap", (4,), 30)
    assert (half.bytes_in("snap"), half.bytes_in("lost")) == (70, 0)
    assert "not captured (snap length)" in "\n".join(render_text(follow(cap, 0)))


def test_a_later_whole_copy_fills_what_the_snap_length_cut(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"x" * 50), c2s(1001, b"x" * 50)], snap={4: 40 + 10})
    half = follow(cap, 0).c2s
    assert half.data == b"x" * 50
    assert half.gaps == ()


def test_syn_and_fin_each_take_one_sequence_number(tmp_path: Path) -> None:
    cap = write(tmp_path, [
        c2s(1000, b"hi", flags=g.SYN, ack=0),                 # 1: data on the SYN (TCP Fast Open) at offset 0
        s2c(5000, flags=g.SYN | g.ACK, ack=1003),             # 2
        c2s(1003, b" there", flags=g.ACK | g.PSH),            # 3: offset 2
        c2s(1009, b"!", flags=g.FIN | g.ACK),                 # 4: data on the FIN, then the FIN at offset 9
        s2c(5001, b"k", flags=g.FIN | g.ACK, ack=1011),       # 5: acknowledges the client's FIN
    ])  # fmt: skip
    fs = follow(cap, 0)
    assert fs.payload("c2s") == (b"hi there!", ())
    assert fs.c2s.fin_offset == 9
    assert fs.c2s.syn_seen
    assert fs.payload("s2c") == (b"k", ())
    assert fs.s2c.fin_offset == 1


def test_sequence_numbers_wrapping_past_2_to_the_32(tmp_path: Path) -> None:
    isn = M - 3  # the first data byte is at 2**32 - 3; the fourth byte wraps to 0
    cap = write(tmp_path, [
        *handshake(isn_c=isn),
        c2s(isn + 1 + 6, b"ghij", ack=5001),   # 4: after the wrap, out of order
        c2s(isn + 1, b"abcdef", ack=5001),     # 5: across the wrap
        c2s(isn + 1 + 2, b"cd", ack=5001),     # 6: a re-sent piece across the wrap
    ])  # fmt: skip
    half = follow(cap, 0).c2s
    assert half.data == b"abcdefghij"
    assert [(c.offset, c.frames) for c in half.chunks] == [(0, (5, 6)), (6, (4,))]


def test_rst_payload_is_left_out_and_named(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"data"), s2c(5001, b"go away", flags=g.RST | g.ACK, ack=1005)])
    fs = follow(cap, 0)
    assert fs.payload("s2c") == (b"", ())
    assert [(i.frame, i.length) for i in fs.ignored] == [(5, 7)]
    assert "payload of an RST is not delivered" in "\n".join(render_text(fs))


def test_mid_stream_capture_starts_at_the_lowest_sequence_number(tmp_path: Path) -> None:
    cap = write(tmp_path, [c2s(2010, b"later"), c2s(2000, b"earlier..."), s2c(9000, b"r", ack=2015)])
    half = follow(cap, 0).c2s
    assert half.data == b"earlier...later"
    assert not half.syn_seen
    assert [c.offset for c in half.chunks] == [0, 10]


def test_memory_holds_each_stream_byte_once() -> None:
    """The reassembler keeps the new bytes of each segment only: ten copies of a segment cost one."""
    from tcptrace.capture import open_capture
    from tcptrace.flow import FlowTracker
    from tcptrace.follow import Reassembler

    tracker, r = FlowTracker(), Reassembler()
    for seg in open_capture(SAMPLES / "lossy_bulk.pcap"):
        tracker.feed(seg)
        r.add(seg)
        r.add(seg)  # every segment twice
    kept = sum(len(p.data) for half in r.halves for p in half.pieces)
    fs = r.finish()
    assert kept == len(fs.c2s.data) + len(fs.s2c.data)


@pytest.mark.parametrize("capture", sorted(p.name for p in SAMPLES.glob("*.pcap*")))
def test_engines_follow_alike_and_flow_payload_agrees(
    capture: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    import tcptrace

    results = []
    for engine in engines():
        monkeypatch.setenv("TCPTRACE_ENGINE", engine)
        results.append(follow(SAMPLES / capture, 0))
    assert all(r == results[0] for r in results[1:])
    flow = tcptrace.load(SAMPLES / capture).flow(0)
    assert flow.payload("c2s") == results[0].payload("c2s")
    assert flow.payload("s2c") == results[0].payload("s2c")


# --- the command line -------------------------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, bytes, str]:
    r = CliRunner().invoke(main, ["follow", *args])
    return r.exit_code, r.stdout_bytes, r.stderr


def test_cli_raw_writes_the_bytes_exactly(tmp_path: Path) -> None:
    body = bytes(range(256)) + b"\r\n\x1b[2J"
    cap = write(tmp_path, [*handshake(), c2s(1001, body), s2c(5001, b"\xff\x00", ack=1001 + len(body))])
    assert _run(str(cap), "--format", "raw", "-d", "c2s")[:2] == (0, body)
    assert _run(str(cap), "--format", "raw", "-d", "s2c")[:2] == (0, b"\xff\x00")
    assert _run(str(cap), "--format", "raw")[:2] == (0, body + b"\xff\x00")


def test_cli_raw_says_what_it_left_out(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"aaaaa"), c2s(1011, b"ccccc")])
    code, out, err = _run(str(cap), "--format", "raw", "-d", "c2s")
    assert (code, out) == (0, b"aaaaaccccc")
    assert "left out of the raw bytes: client → server, offset 5: 5 bytes lost (never captured)" in err


def test_cli_text_escapes_what_a_terminal_would_act_on(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"ok\x1b]52;c;aGk=\x07\xff\r\nnext")])
    code, out, _ = _run(str(cap))
    text = out.decode()
    assert code == 0
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "ok\\x1b]52;c;aGk=\\x07\\xff\\r\nnext" in text


def test_cli_json_and_hex(tmp_path: Path) -> None:
    cap = write(tmp_path, [*handshake(), c2s(1001, b"aaaaa"), c2s(1011, b"ccccc")])
    code, out, _ = _run(str(cap), "--format", "json", "-d", "c2s")
    doc = json.loads(out)
    assert code == 0
    assert list(doc["directions"]) == ["c2s"]
    chunks = [i for i in doc["items"] if i["type"] == "chunk"]
    assert [base64.b64decode(c["data"]) for c in chunks] == [b"aaaaa", b"ccccc"]
    assert [i for i in doc["items"] if i["type"] == "gap"] == [
        {"type": "gap", "direction": "c2s", "offset": 5, "length": 5, "kind": "lost", "frames": [4, 5],
         "description": "lost (never captured)"}]  # fmt: skip
    code, out, _ = _run(str(cap), "--format", "hex")
    assert "00000000  61 61 61 61 61" in out.decode()
    assert "00000005  [5 bytes lost (never captured)]" in out.decode()


def test_cli_stream_the_capture_lacks_exits_2() -> None:
    code, _, err = _run(str(SAMPLES / "echo_ipv4.pcap"), "-s", "3")
    assert code == 2
    assert "no TCP stream 3" in err


def test_hex_layout_is_tsharks() -> None:
    """The dialogue sample as `tshark -r dialogue.pcap -q -z follow,tcp,hex,0` prints it (TShark 4.0.17)."""
    lines = [ln for ln in render_hex(follow(SAMPLES / "dialogue.pcap", 0)) if ln[:1] in "0\t"]
    assert lines == [
        "\t00000000  57 65 6c 63 6f 6d 65 21  0a                       Welcome! .",
        "\t00000009  57 68 61 74 27 73 20 79  6f 75 72 20 6e 61 6d 65  What's y our name",
        "\t00000019  3f 0a                                             ?.",
        "00000000  41 6c 69 63 65 0a                                 Alice.",
        "\t0000001B  48 65 6c 6c 6f 2c 20 41  6c 69 63 65 21 0a        Hello, A lice!.",
        "00000006  65 78 69 74 0a                                    exit.",
    ]


def test_reassemble_of_no_segments_is_empty() -> None:
    fs = reassemble([])
    assert fs.items() == []
    assert fs.payload("c2s") == (b"", ())
    assert to_dict(fs)["items"] == []
    with pytest.raises(ValueError, match="direction"):
        fs.payload("up")  # type: ignore[arg-type]


def test_gap_and_chunk_are_frozen() -> None:
    gap = Gap("c2s", 0, 1, "lost", ())
    with pytest.raises(AttributeError):
        gap.length = 2  # type: ignore[misc]


def test_data_below_an_acknowledgement_sent_before_it_was_read_already(tmp_path: Path) -> None:
    """Mid-stream: the server acknowledged up to 2000 before any data was captured, so a re-sent copy of older
    bytes (1990..2000) is not part of what the capture shows the server reading."""
    cap = write(tmp_path, [
        s2c(9000, flags=g.ACK, ack=2000),        # 1: the server has read up to 2000
        c2s(2000, b"new", ack=9000),             # 2: offset 0
        c2s(1990, b"old bytes.", ack=9000),      # 3: before the stream's first byte
    ])  # fmt: skip
    half = follow(cap, 0).c2s
    assert half.data == b"new"
    assert [(i.frame, i.length) for i in half.ignored] == [(3, 10)]


def test_a_second_syn_ack_with_a_new_isn_is_followed_by_the_data(tmp_path: Path) -> None:
    cap = write(tmp_path, [
        c2s(1000, flags=g.SYN, ack=0),                       # 1
        s2c(5000, flags=g.SYN | g.ACK, ack=1001),            # 2: ISN 5000
        s2c(7000, flags=g.SYN | g.ACK, ack=1001),            # 3: another SYN/ACK, ISN 7000
        c2s(1001, flags=g.ACK, ack=7001),                    # 4: the client takes the second
        s2c(7001, b"hello", ack=1001),                       # 5: the data follows ISN 7000
    ])  # fmt: skip
    half = follow(cap, 0).s2c
    assert half.payload() == (b"hello", ())
    assert half.ignored == ()


def test_a_syn_far_past_the_data_is_not_its_start(tmp_path: Path) -> None:
    """A damaged or rewritten capture: the only SYN's sequence number lies past all the data."""
    cap = write(tmp_path, [c2s(3000, b"abc"), c2s(3003, b"def"), c2s(900_000, flags=g.SYN, ack=0)])
    assert follow(cap, 0).payload("c2s") == (b"abcdef", ())


def test_html_escapes_everything_from_the_capture(tmp_path: Path) -> None:
    from tcptrace.follow import render_html

    cap = write(tmp_path, [*handshake(), c2s(1001, b"<script>alert('x')</script>&\x1b[2J")])
    page = render_html(follow(cap, 0))
    assert "<script>" not in page
    assert "\x1b" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;\\x1b[2J" in page
    assert follow(cap, 0)._repr_html_() == page


def test_cli_raw_is_refused_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Raw bytes could act on a terminal (escape sequences): usage error, exit 2, nothing written."""
    import io

    from tcptrace import cli

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(cli.sys, "stdout", Tty())
    code = cli.run_cli(["follow", str(SAMPLES / "echo_ipv4.pcap"), "--format", "raw"])
    assert code == 2
    assert cli.sys.stdout.getvalue() == ""


def test_summary_lists_a_few_notes_and_counts_the_rest(tmp_path: Path) -> None:
    """Keep-alives that carry one garbage byte at snd_una - 1 (Windows sends a zero) are copies of an old byte that
    differ from it: each is reported, but the summary does not grow a line for every one."""
    keepalives = [c2s(1004, b"\x00", flags=g.ACK) for _ in range(8)]  # frames 6..13
    cap = write(tmp_path, [*handshake(), c2s(1001, b"data"), s2c(5001, flags=g.ACK, ack=1005), *keepalives])
    fs = follow(cap, 0)
    assert fs.payload("c2s") == (b"data", ())  # the first copy of byte 3 is frame 4's "a"
    assert [(c.offset, c.kept_frame, c.other_frame) for c in fs.conflicts] == [(3, 4, f) for f in range(6, 14)]
    notes = [line for line in render_text(fs) if "note:" in line]
    assert len(notes) == 6
    assert notes[-1] == "  note: and 3 more places where copies differ (--format json)"
