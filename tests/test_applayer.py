"""What the application said (tcptrace.applayer): reassembly, the recognisers on real captures (checked against
the programs that made the traffic and against tshark's dissectors), explain's sentences and ``flows --app``.

The expected values come from the programs in sample_pcaps/programs (what they send) and from tshark, not from
tcptrace's own output: http_keepalive.py serves files of 16, 600 and 1500 bytes and asks for /0, /1, /2 on one
connection; tls_hello.py names tcptrace.test; dns_tcp.py pipelines an A and an AAAA query for www.example.test in
one send() and answers the A query with one record, the AAAA query with none; framing.py sends a 9-byte command
and a 20000-byte body, each after a 4-byte length; nagle.py writes `msg 000\\n` ... `msg 009\\n`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tcptrace import applayer
from tcptrace.applayer import MAX_BYTES, Collector, Payload, payloads, recognise
from tcptrace.cli import main
from tcptrace.engine import one_stream
from tcptrace.model import PSH, Direction, Segment
from tcptrace.narrate import explain

SAMPLES = Path(__file__).resolve().parent.parent / "sample_pcaps"


def app_of(name: str) -> applayer.AppLayer:
    ff = one_stream(SAMPLES / name, 0)
    flow = ff.summary.flow
    return applayer.analyse(ff.segments, flow.halves[1].port, flow.halves[0].port)


# --- reassembly (tcptrace.follow's, bounded here) ------------------------------------------------------------


def seg(direction: int, seq_raw: int, data: bytes, frame: int, flags: int = PSH) -> Segment:
    s = Segment(frame, frame * 1000, 0, 4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 40000, 80, seq_raw, 0, flags,
                65535, 20, len(data), frame, 64, b"", data)  # fmt: skip
    s.direction = Direction(direction)
    return s


def test_payload_places_out_of_order_data_and_keeps_the_first_copy() -> None:
    # seq 1 "abc", seq 7 "ghi" (before its predecessor), seq 4 "def", then a copy of 4 with other bytes
    c2s, s2c, sent = payloads([seg(0, 1, b"abc", 10), seg(0, 7, b"ghi", 11), seg(0, 4, b"def", 12),
                               seg(0, 4, b"XYZ", 13)])  # fmt: skip
    assert (c2s.data, c2s.gaps, s2c.data, sent) == (b"abcdefghi", (), b"", True)
    assert c2s.carried(0, 9) == [(10, 3), (12, 3), (11, 3)]  # stream order; the copy in frame 13 added nothing


def test_payload_reports_gaps_and_stops_the_data_at_the_first() -> None:
    c2s, _, _ = payloads([seg(0, 1, b"abc", 1), seg(0, 10, b"xyz", 2)])
    assert c2s.data == b"abc"
    assert c2s.gaps == ((3, 6),)
    assert [c.frame for c in c2s.chunks] == [1, 2]


def test_payload_is_bounded() -> None:
    segs = [seg(1, 1 + i * 1000, bytes([65 + i % 26]) * 1000, i + 1) for i in range(100)]  # 100,000 bytes
    _, s2c, _ = payloads(segs)
    assert s2c.capped
    assert len(s2c.data) == MAX_BYTES
    assert sum(c.length for c in s2c.chunks) == MAX_BYTES


def test_collector_keeps_at_most_twice_the_bound_per_direction() -> None:
    c = Collector()
    for i in range(1000):
        s = seg(0, 1 + i * 1000, b"x" * 1000, i + 1)
        s.stream = 0
        c.add(s)
    assert sum(len(s.payload) for s in c._streams[0].segs) <= 2 * MAX_BYTES + 1000
    assert c.app(0).capped == (True, False)


# --- real captures ------------------------------------------------------------------------------------------


def test_http_keep_alive_three_requests_on_one_connection() -> None:
    app = app_of("http_keepalive.pcap")
    assert app.protocol == "http"
    reqs = [m for m in app.messages if m.kind == "request"]
    resps = [m for m in app.messages if m.kind == "response"]
    assert [(m.fields["method"], m.fields["path"]) for m in reqs] == [("GET", "/0"), ("GET", "/1"), ("GET", "/2")]
    assert [(m.fields["status"], m.fields["content_length"], m.fields["body_bytes"]) for m in resps] == [
        (200, 16, 16), (200, 600, 600), (200, 1500, 1500)]  # fmt: skip
    # the 1500-byte file: its headers in one segment, the body in a full segment (1448 with timestamps) and a tail
    assert [n for _, n in resps[2].carried][1:] == [1448, 52]
    assert all(m.complete for m in app.messages)


def test_tls_client_hello_names_the_server_and_the_server_hello_picks_tls_1_3() -> None:
    app = app_of("tls_hello.pcap")
    assert app.protocol == "tls"
    kinds = [m.kind for m in app.messages]
    hello = app.messages[kinds.index("client_hello")]
    assert hello.fields["sni"] == "tcptrace.test"
    assert "TLS 1.3" in hello.fields["supported_versions"]
    assert app.messages[kinds.index("server_hello")].fields["version"] == "TLS 1.3"
    assert "application_data" in kinds  # everything after the ServerHello is encrypted in TLS 1.3


def test_dns_over_tcp_two_pipelined_queries_in_one_segment() -> None:
    app = app_of("dns_tcp.pcap")
    assert app.protocol == "dns"
    queries = [m for m in app.messages if m.kind == "query"]
    answers = [m for m in app.messages if m.kind == "answer"]
    assert [(m.fields["name"], m.fields["type"]) for m in queries] == [("www.example.test", "A"),
                                                                       ("www.example.test", "AAAA")]  # fmt: skip
    assert queries[0].frames == queries[1].frames  # one send(), one segment
    assert [(m.fields["id"], m.fields["answers"], m.fields["rcode"]) for m in answers] == [
        (0x1001, 1, "NOERROR"), (0x1002, 0, "NOERROR")]  # fmt: skip


def test_length_prefixed_framing() -> None:
    app = app_of("framing.pcap")
    assert (app.protocol, app.details) == ("length-prefixed", {"prefix_bytes": 4})
    assert [(m.direction, m.fields["length"]) for m in app.messages] == [(0, 9), (1, 20000)]
    assert app.messages[0].fields["text"] == "GET 20000"
    assert app.messages[1].segments == 15  # the 4-byte header alone, then 14 segments of body (README)


def test_newline_delimited_lines_nine_in_one_segment() -> None:
    app = app_of("nagle.pcap")
    assert app.protocol == "lines"
    assert [m.fields["text"] for m in app.messages] == [f"msg {i:03d}" for i in range(10)]
    assert len({m.frames for m in app.messages[1:]}) == 1  # msg 001 ... msg 009 in one segment (README)


NOT_RECOGNISED = [
    ("echo_ipv4.pcap", "unknown"),
    ("coalesced.pcap", "unknown"),
    ("refused.pcap", "none"),
    ("echo_snaplen.pcap", "unknown"),
    ("lossy_bulk.pcap", "unknown"),
    ("sack_dsack.pcap", "unknown"),
]


@pytest.mark.parametrize(("name", "protocol"), NOT_RECOGNISED)
def test_no_false_recognition(name: str, protocol: str) -> None:
    """Bulk data cut by the snap length must not pass for a length-prefixed framing; a payload that was not
    captured is unknown, a stream without data is none."""
    assert app_of(name).protocol == protocol


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize(
    ("name", "fields", "where", "ours"),
    [
        ("http_keepalive.pcap", ["http.request.method", "http.request.uri"], "http.request",
         lambda a: [[m.fields["method"], m.fields["path"]] for m in a.messages if m.kind == "request"]),
        ("tls_hello.pcap", ["tls.handshake.extensions_server_name"], "tls.handshake.extensions_server_name",
         lambda a: [[m.fields["sni"]] for m in a.messages if m.kind == "client_hello"]),
        ("dns_tcp.pcap", ["dns.qry.name", "dns.qry.type"], "dns.flags.response == 0",
         lambda a: [[m.fields["name"], {"A": "1", "AAAA": "28"}[m.fields["type"]]] for m in a.messages
                    if m.kind == "query"]),
        ("dns_tcp.pcap", ["dns.id", "dns.count.answers"], "dns.flags.response == 1",
         lambda a: [[f"{m.fields['id']:#06x}", str(m.fields["answers"])] for m in a.messages if m.kind == "answer"]),
    ],
)  # fmt: skip
def test_agrees_with_tshark_dissectors(name: str, fields: list[str], where: str, ours: object) -> None:
    args = ["tshark", "-r", str(SAMPLES / name), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run([*args, "-Y", where], capture_output=True, text=True, check=True).stdout
    theirs = []
    for line in out.splitlines():
        cols = [c.split(";") for c in line.split("\t")]
        theirs += [list(v) for v in zip(*cols, strict=True)]  # two DNS queries in one frame: one row each
    assert theirs == ours(app_of(name))  # type: ignore[operator]


# --- hostile input ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.binary(max_size=600), st.sampled_from([0, 53, 80, 443]))
def test_any_bytes_give_an_answer_not_an_exception(c2s: bytes, s2c: bytes, port: int) -> None:
    app = recognise(Payload.of(c2s), Payload.of(s2c, 2), port)
    assert app.protocol in applayer.PROTOCOLS
    json.dumps(app.to_dict())


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde",
                        b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03" + bytes(38),
                        b"\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01"]),
       st.integers(0, 60), st.binary(max_size=8))  # fmt: skip
def test_damaged_messages_are_cut_or_unknown(good: bytes, cut: int, junk: bytes) -> None:
    data = good[:cut] + junk
    app = recognise(Payload.of(data), Payload(), 53)
    assert app.protocol in applayer.PROTOCOLS
    for m in app.messages:
        assert 0 <= m.start < m.end <= len(data)


@pytest.mark.parametrize(
    "header", [b"Content-Length: 2\r\nContent-Length: 2", b"Transfer-Encoding: x\r\nTransfer-Encoding: y"]
)
def test_a_repeated_body_header_is_no_exception(header: bytes) -> None:
    """dpkt gathers a repeated header into a list, and then its body parser fails on it with TypeError or
    AttributeError, not UnpackError (a fuzzed capture, http_keepalive.pcap#3690 under benchmarks/fuzz.py --base
    3000, made explain raise): the message is cut there, as a damaged one is."""
    request = b"GET / HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\nab"
    response = b"HTTP/1.1 200 OK\r\n" + header + b"\r\n\r\nab"
    for c2s, s2c in ((request, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), (b"GET / HTTP/1.1\r\n\r\n", response)):
        app = recognise(Payload.of(c2s), Payload.of(s2c, 2), 80)
        assert app.protocol in applayer.PROTOCOLS
        json.dumps(app.to_dict())


# --- explain and flows --app ----------------------------------------------------------------------------------


def test_explain_names_the_http_messages_in_both_languages() -> None:
    en = "\n".join(s.text for s in explain(SAMPLES / "http_keepalive.pcap")[0].steps)
    assert "The client sends an HTTP request: GET /0 (68 bytes, 1 segment)." in en
    assert "split into 3 segments of 202, 1,448 and 52 bytes" in en
    assert "3 requests and responses share this connection (HTTP keep-alive)" in en
    assert "newline-terminated" not in en  # an HTTP message's header lines are not messages of their own
    zh = "\n".join(s.text for s in explain(SAMPLES / "http_keepalive.pcap", lang="zh")[0].steps)
    assert "客户端发送 HTTP 请求：GET /0（68 字节，1 个报文段）。" in zh  # noqa: RUF001
    assert "3 组请求和响应共用这一个连接（HTTP keep-alive）" in zh  # noqa: RUF001


def test_explain_app_steps_are_in_the_data_phase_after_their_last_frame() -> None:
    steps = explain(SAMPLES / "dns_tcp.pcap")[0].steps
    app = [s for s in steps if s.kind == "app"]
    assert [s.facts["kind"] for s in app] == ["query", "query", "answer", "answer"]
    assert "These 2 messages arrive in one segment (frame 6)" in app[0].text
    assert all(s.phase == "data" for s in app)
    for s in app:
        before = steps[steps.index(s) - 1]
        assert before.frames[-1] >= s.frames[-1]


def test_flows_app_column_and_json_messages() -> None:
    r = CliRunner().invoke(main, ["flows", str(SAMPLES / "tls_hello.pcap"), "--app"])
    assert r.exit_code == 0
    head, row = r.output.splitlines()[:2]
    assert head.split()[-2:] == ["app", "verdict"]
    assert " tls " in row
    r = CliRunner().invoke(main, ["flows", str(SAMPLES / "http_keepalive.pcap"), "--app", "--format", "json"])
    doc = json.loads(r.output)
    app = doc["flows"][0]["app"]
    assert app["protocol"] == "http"
    assert [m.get("path") for m in app["messages"] if m["kind"] == "request"] == ["/0", "/1", "/2"]
    r = CliRunner().invoke(main, ["flows", str(SAMPLES / "dns_tcp.pcap"), "--app", "--format", "csv"])
    assert r.output.splitlines()[0].endswith(",app")
    assert r.output.splitlines()[1].endswith(",dns")


def test_flows_app_summaries_equal_the_plain_ones() -> None:
    """--app reads with the Python pipeline: every other field is what the C engine's flows say."""
    for name in ("http_keepalive.pcap", "lossy_bulk.pcap", "port_reuse.pcap"):
        plain = json.loads(CliRunner().invoke(main, ["flows", str(SAMPLES / name), "--format", "json"]).output)
        app = json.loads(CliRunner().invoke(main, ["flows", str(SAMPLES / name), "--format", "json", "--app"]).output)
        assert [{k: v for k, v in f.items() if k != "app"} for f in app["flows"]] == plain["flows"]


def test_flows_without_app_has_no_app_column_and_app_with_zeek_is_a_usage_error() -> None:
    r = CliRunner().invoke(main, ["flows", str(SAMPLES / "http_keepalive.pcap")])
    assert " app " not in r.output.splitlines()[0]
    r = CliRunner().invoke(main, ["flows", str(SAMPLES / "http_keepalive.pcap"), "--app", "--zeek"])
    assert r.exit_code == 2


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.pcap*")))
def test_the_pre_check_never_skips_what_explain_tells(name: str) -> None:
    """explain parses a stream only when the first payload of a side could be HTTP, TLS or DNS: on every sample,
    each stream recognised as one of those passes the pre-check."""
    from tcptrace.api import load

    for f in load(SAMPLES / name):
        flow = f._summary_obj.flow
        ports = (flow.halves[1].port, flow.halves[0].port)
        told = f.app().protocol in ("http", "tls", "dns")
        assert applayer.may_be_http_tls_or_dns(f.packets, *ports) or not told
        if name in ("http_keepalive.pcap", "tls_hello.pcap", "dns_tcp.pcap"):
            assert told


def test_a_direction_cut_by_the_snap_length_is_kept_up_to_its_first_cut_segment() -> None:
    """Parsing stops at the first gap; keeping the rest of a capture cut on every segment would cost a gap per
    segment (the benchmark capture: 380,000 of them)."""
    segs = [seg(0, 1 + i * 1000, b"y" * 60, i + 1) for i in range(50)]
    for s in segs:
        s.len = 1000  # 1000 bytes on the wire, 60 captured
    c2s, _, sent = payloads(segs)
    assert sent
    assert c2s.data == b"y" * 60
    assert [c.frame for c in c2s.chunks] == [1]
