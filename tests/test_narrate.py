"""Narratives: golden files for every sample (en, zh) and the specific facts each scenario must state."""

from __future__ import annotations

import difflib
import io
import json
import sys
from pathlib import Path

import pcapgen as g
import pytest
from click.testing import CliRunner
from conftest import ROOT, SAMPLES

from tcptrace import explain
from tcptrace.cli import main
from tcptrace.messages import LANGUAGES, missing_keys
from tcptrace.narrate import preview, render_html, render_markdown

sys.path.insert(0, str(ROOT / "scripts"))
from regen_goldens import GOLDEN, LANGS, captures, golden_text

GOLDEN_CASES = [(cap, lang) for cap in captures() for lang in LANGS]


@pytest.mark.parametrize(("capture", "lang"), GOLDEN_CASES, ids=[f"{c.name}-{lang}" for c, lang in GOLDEN_CASES])
def test_golden_narrative(capture: Path, lang: str) -> None:
    """The narrative equals the reviewed golden file. After an intended change: python scripts/regen_goldens.py,
    then read the diff before committing it."""
    golden = GOLDEN / f"{capture.name}.{lang}.txt"
    assert golden.exists(), f"no golden for {capture.name} ({lang}): run python scripts/regen_goldens.py"
    want = golden.read_text(encoding="utf-8")
    got = golden_text(capture, lang)
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True), "golden", "now", n=1))
        pytest.fail(f"narrative changed for {capture.name} ({lang}):\n{diff[:4000]}")


def steps(name: str, lang: str = "en", **kw: object) -> list:
    (flow,) = explain(SAMPLES / name, lang=lang, **kw).flows  # type: ignore[arg-type]
    return flow.steps


def test_handshake_explains_ack_is_x_plus_1_and_states_in_order() -> None:
    s = steps("echo_ipv4.pcap")
    assert [x.kind for x in s[:3]] == ["syn", "syn_ack", "handshake_ack"]
    assert "seq = 0" in s[0].text
    assert "SYN_SENT" in s[0].text
    assert "ack = 1" in s[1].text
    assert "because a SYN consumes one sequence number" in s[1].text
    assert "window scale 10" in s[0].text
    assert "Handshake round-trip time" in s[2].text
    assert [(x.client_state, x.server_state) for x in s[:3]] == [
        ("SYN_SENT", "SYN_RECEIVED"),
        ("ESTABLISHED", "SYN_RECEIVED"),
        ("ESTABLISHED", "ESTABLISHED"),
    ]
    assert [x.frames for x in s[:3]] == [(3,), (4,), (5,)]


def test_data_and_acks() -> None:
    s = steps("echo_ipv4.pcap")
    data = next(x for x in s if x.kind == "data")
    assert '"AB"' in data.text
    assert "PSH" in data.text
    ack = next(x for x in s if x.kind == "ack")
    assert "ack = 3: the client's bytes up to seq 2 arrived" in ack.text


def test_three_segment_close_and_time_wait() -> None:
    s = steps("echo_ipv4.pcap")
    kinds = [x.kind for x in s]
    assert kinds[-3:] == ["fin", "fin_second", "fin_ack"]
    assert "FIN_WAIT_1" in s[-3].text
    assert "CLOSE_WAIT" in s[-3].text
    assert "three-segment close" in s[-2].text
    assert "2\N{MULTIPLICATION SIGN}MSL" in s[-2].text
    assert (s[-1].client_state, s[-1].server_state) == ("TIME_WAIT", "CLOSED")


def test_four_way_close_server_first() -> None:
    s = steps("port_reuse.pcap", stream=0)
    fins = [x for x in s if x.kind in ("fin", "fin_second")]
    assert "server sends FIN" in fins[0].text
    assert "LAST_ACK" in fins[1].text


def test_refused() -> None:
    s = steps("refused.pcap")
    assert s[-1].kind == "refused"
    assert "nothing listens on port 20001" in s[-1].text
    assert "ECONNREFUSED" in s[-1].text


def test_abortive_reset_and_reset_after_close() -> None:
    rst = steps("abort_rst.pcap")[-1]
    assert rst.kind == "reset"
    assert "The client resets the connection (RST) in ESTABLISHED" in rst.text
    assert "SO_LINGER 0" in rst.text
    late = steps("rst_after_close.pcap")
    assert "data arrived for a socket that was already closed" in late[-1].text
    assert "FIN_WAIT_2" in late[-1].text
    assert any("still sends data after the server's FIN" in x.text for x in late)


def test_half_close() -> None:
    s = steps("half_close.pcap")
    assert any("shutdown(SHUT_WR)" in x.text for x in s)
    assert s[-1].client_state == "TIME_WAIT"


def test_zero_window_keepalive_and_window_update_after_handshake() -> None:
    s = steps("zero_window.pcap")
    texts = [x.text for x in s]
    assert any(t.startswith("Zero window") for t in texts)
    # Linux probes a zero window with seq = snd_una - 1 and no data: Wireshark says Keep-Alive, the story says
    # what it is (and why Wireshark labels it otherwise)
    probes = [x for x in s if "keep_alive" in x.flags]
    assert [x.frames for x in probes] == [(12,), (14,), (15,)]
    assert all(x.text.startswith("Zero-window probe") and "Wireshark labels it Keep-Alive" in x.text for x in probes)
    assert not any(x.text.startswith("Keep-alive") for x in s)
    assert any("Window update" in t and "from 0 to" in t for t in texts)
    k = steps("keepalive.pcap")
    first_update = next(x for x in k if "Window update" in x.text)
    assert "a SYN's window is never scaled" in first_update.text
    assert any("Keep-alive ACK" in x.text for x in k)


def test_lossy_transfer_collapsed_but_every_event_visible() -> None:
    s = steps("lossy_bulk.pcap")
    assert any(x.kind == "summary" for x in s)
    fast = [x for x in s if "fast_retransmission" in x.flags]
    assert fast
    assert "duplicate ACKs asked for seq" in fast[0].text
    assert "first sent in frame 29" in fast[0].text  # the frame that first carried those bytes
    assert any(x.kind == "ack" and len(x.frames) == 2 and "Duplicate ACKs #" in x.text for x in s)
    full = steps("lossy_bulk.pcap", verbose=True)
    assert len(full) > len(s)
    assert not any(x.kind == "summary" for x in full)
    flagged_frames = {x.frames[0] for x in full if x.flags}
    shown = {f for x in s for f in range(x.frames[0], x.frames[-1] + 1) if x.flags}
    assert flagged_frames <= shown


def test_max_steps() -> None:
    (flow,) = explain(SAMPLES / "lossy_bulk.pcap", max_steps=5).flows
    shown = [x for x in flow.steps if x.kind != "hidden"]
    assert len(shown) == 5
    assert flow.hidden_steps > 0
    # the cut comes from the middle: the teardown stays visible
    assert shown[-1].phase == "teardown"
    assert shown[0].kind == "syn"
    assert [x.kind for x in flow.steps].count("hidden") == 1
    assert "more steps not shown" in str(flow)


def test_chinese_uses_the_standard_terms() -> None:
    text = str(explain(SAMPLES / "echo_ipv4.pcap", lang="zh"))
    for term in ("三次握手", "四次挥手", "序列号", "确认号", "SYN_SENT", "TIME_WAIT"):
        assert term in text
    lossy = str(explain(SAMPLES / "lossy_bulk.pcap", lang="zh"))
    assert "快速重传" in lossy
    assert "重复确认" in lossy
    assert "重置" in str(explain(SAMPLES / "abort_rst.pcap", lang="zh"))
    assert "窗口更新" in str(explain(SAMPLES / "keepalive.pcap", lang="zh"))


def test_catalogues_complete_and_placeholders_match() -> None:
    import string

    assert missing_keys() == {}
    fmt = string.Formatter()
    for key, en in LANGUAGES["en"].items():
        want = {f for _, f, _, _ in fmt.parse(en) if f}
        for lang, cat in LANGUAGES.items():
            got = {f for _, f, _, _ in fmt.parse(cat[key]) if f}
            assert got == want, f"{lang}:{key} placeholders {got} != {want}"


def test_preview_is_safe() -> None:
    assert preview(b"GET /\r\n", 7) == '"GET /\\r\\n"'
    assert preview(b"\x00\x01\xff", 3) == "hex 00 01 ff"
    assert preview(b"", 100).startswith("(payload not captured")


def test_html_escapes_payload_and_markdown_and_json() -> None:
    evil = b"<script>alert(1)</script>"
    pkts = g.handshake_and_data()
    pkts[3] = g.ipv4(g.tcp(40000, 80, 1001, 5001, g.PSH | g.ACK, 502, payload=evil))
    nar = explain(io.BytesIO(g.pcap(g.records([g.ether(p) for p in pkts]))))  # type: ignore[arg-type]
    page = render_html(nar)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<script>" not in nar[0]._repr_html_()
    assert nar[0].steps[0].kind == "syn"
    md = render_markdown(nar)
    assert md.startswith("## Stream 0")
    doc = nar.to_dict()
    assert doc["flows"][0]["steps"][0]["frames"] == [1]
    json.dumps(doc)


def test_cli_explain_formats() -> None:
    r = CliRunner().invoke(main, ["explain", "--format", "json", "--lang", "zh", str(SAMPLES / "echo_ipv4.pcap")])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert doc["lang"] == "zh"
    assert doc["flows"][0]["steps"][0]["kind"] == "syn"
    r = CliRunner().invoke(main, ["explain", "--color", str(SAMPLES / "echo_ipv4.pcap")])
    assert "\x1b[" in r.stdout
    r = CliRunner().invoke(main, ["explain", str(SAMPLES / "echo_ipv4.pcap")])
    assert "\x1b[" not in r.stdout  # not a terminal: no colour by default
    r = CliRunner().invoke(main, ["explain", "--port", "1", str(SAMPLES / "echo_ipv4.pcap")])
    assert "Stream 0" not in r.stdout
    r = CliRunner().invoke(main, ["explain", "--format", "html", str(SAMPLES / "refused.pcap")])
    assert r.stdout.startswith("<!DOCTYPE html>")


def test_syn_retransmissions_with_backoff_from_a_real_capture() -> None:
    """blitz/tcptrace 6syns.dmp (public corpus): three SYN retransmissions, 6 s, 12 s and 24 s apart."""
    from conftest import CORPUS

    path = CORPUS / "blitz+tcptrace" / "6syns.dmp"
    if not path.exists():
        pytest.skip("../shared/corpus is absent")
    (flow, *_) = explain(path, stream=0).flows
    kinds = [s.kind for s in flow.steps[:6]]
    assert kinds == ["syn", "syn_retransmission", "syn_retransmission", "syn_retransmission", "syn_ack",
                     "handshake_ack"]  # fmt: skip
    assert "the timeout doubles each time: 5.990 s, 12.002 s, 24.005 s" in flow.steps[3].text


def test_simultaneous_close_goes_through_closing() -> None:
    s = steps("finish_both_close.pcap")
    assert any("simultaneous close" in x.text for x in s)
    closing = [(x.client_state, x.server_state) for x in s if "CLOSING" in (x.client_state, x.server_state)]
    assert ("CLOSING", "CLOSING") in closing
    assert (s[-1].client_state, s[-1].server_state) == ("TIME_WAIT", "TIME_WAIT")
    (flow,) = explain(SAMPLES / "finish_both_close.pcap").flows
    assert "simultaneous close" in flow.verdict


def test_client_and_server_close_first_variants() -> None:
    client_first = steps("finish_client_closes.pcap")
    server_first = steps("finish_server_closes.pcap")
    states_c = {(x.client_state, x.server_state) for x in client_first}
    states_s = {(x.client_state, x.server_state) for x in server_first}
    assert ("FIN_WAIT_2", "CLOSE_WAIT") in states_c
    assert ("CLOSE_WAIT", "FIN_WAIT_2") in states_s
    assert client_first[-1].client_state == "TIME_WAIT"
    assert server_first[-1].server_state == "TIME_WAIT"
    assert any('"Finish!\\n"' in x.text for x in client_first)


def test_mid_stream_capture_starts_unknown_and_guesses_roles() -> None:
    (flow,) = explain(SAMPLES / "midstream.pcap").flows
    assert "roles guessed" in flow.header
    assert flow.summary["opened"] == "mid_stream"
    assert flow.steps[0].kind == "data"
    assert (flow.steps[0].client_state, flow.steps[0].server_state) == ("ESTABLISHED", "ESTABLISHED")


def test_unanswered_syn_with_exponential_backoff() -> None:
    s = steps("syn_timeout.pcap")
    assert [x.kind for x in s] == ["syn", "syn_retransmission", "syn_retransmission", "syn_retransmission",
                                   "unanswered"]  # fmt: skip
    assert "the timeout doubles each time" in s[3].text
    assert "never answered" in explain(SAMPLES / "syn_timeout.pcap").flows[0].verdict


def test_coalesced_writes_and_framing() -> None:
    s = steps("coalesced.pcap")
    first = next(x for x in s if x.kind == "data")
    assert '"hello world!"' in first.text
    # one segment of 12 bytes: that it came from two send() calls is not visible in the capture, so no claim
    assert "sticky packet" not in first.text
    framing = steps("framing.pcap", verbose=True)
    header = next(x for x in framing if x.kind == "data" and "4 bytes" in x.text)
    assert "hex 00 00 4e 20" in header.text
    assert "announcing a 20000-byte message; the body arrives in 14 segments (frames 10\N{EN DASH}36)" in header.text


def test_threaded_dialogue_three_streams_and_vlan() -> None:
    nar = explain(SAMPLES / "dialogue_threaded.pcap")
    assert [f.stream for f in nar.flows] == [0, 1, 2]
    assert all(f.summary["opened"] == "handshake" for f in nar.flows)
    texts = [str(f) for f in nar.flows]
    assert any('"Welcome!\\n"' in t for t in texts)
    (vlan,) = explain(SAMPLES / "vlan.pcap").flows
    assert vlan.summary["closed"].startswith("graceful_close")


def test_delayed_ack_is_named() -> None:
    s = steps("finish_client_closes.pcap", verbose=True)
    assert any("delayed ACK" in x.text for x in s)


def _told_capture(path: Path) -> Path:
    """Four connections alike (one group) closed 0.1 s apart; the server of the second re-sends its FIN 0.2 s after
    the close (inside the 2 s horizon: the stream reopens), the client of the first re-sends its last ACK 3 s
    after the close (past the horizon: a late segment), and a fifth connection keeps the capture going."""
    c, s = ("10.0.0.1", "10.0.0.2")
    recs: list = []
    start = 1_700_000_000_000_000_000
    for k in range(4):
        sport = 40000 + k
        close = [
            g.ipv4(g.tcp(sport, 80, 1006, 5001, g.FIN | g.ACK, 502), c, s),
            g.ipv4(g.tcp(80, sport, 5001, 1007, g.FIN | g.ACK, 255), s, c),
            g.ipv4(g.tcp(sport, 80, 1007, 5002, g.ACK, 502), c, s),
        ]
        conn = g.records([g.ether(p) for p in g.handshake_and_data(sport=sport) + close], start + k * 100_000_000)
        recs += conn
        if k == 0:
            recs += g.records([g.ether(close[2])], conn[-1].ts_ns + 3_000_000_000)
        if k == 1:
            recs += g.records([g.ether(close[1]), g.ether(close[2])], conn[-1].ts_ns + 200_000_000)
    recs += g.records([g.ether(p) for p in g.handshake_and_data(sport=41000)], start + 2_600_000_000)
    path.write_bytes(g.pcap(sorted(recs, key=lambda r: r.ts_ns)))
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_explain_streams_the_same_document(tmp_path: Path, fmt: str) -> None:
    """`tcptrace explain` tells each stream when it ends and spools its text (narrate.ExplainDocument); the
    document is byte for byte the one rendered from every narrative at once, told from FlowStream's whole
    streams: groups, the overview, a stream reopened by a copy inside the horizon, a late segment past it."""
    from tcptrace.engine import FlowStream
    from tcptrace.narrate import Narrative, narrate_flow, render_text_all

    path = _told_capture(tmp_path / "told.pcap")
    fs = FlowStream(path)
    flows = {ff.stream: narrate_flow(ff.summary, ff.segments, previous=ff.previous) for ff in fs}
    for n, count in fs.late.items():
        flows[n].late_segments = count
    nar = Narrative(str(path), "en", [flows[n] for n in sorted(flows)], fs.stats.as_dict(), fs.streams_total)
    assert [f.late_segments for f in nar.flows] == [1, 0, 0, 0, 0]
    # stream 0 heads 2 and 3 (a late segment is not part of a shape: its line comes before the group's line)
    assert [[f.stream for f in group] for group in nar.groups()] == [[0, 2, 3], [1], [4]]
    stats = nar.stats
    footer = LANGUAGES["en"]["footer"].format(frames=f"{stats['frames']:,}", segments=f"{stats['tcp_segments']:,}")
    want = {
        "text": render_text_all(nar) + "\n\n" + footer + "\n",
        "json": json.dumps(nar.to_dict(), indent=2, ensure_ascii=False) + "\n",
        "markdown": render_markdown(nar) + "\n",
        "html": render_html(nar),
    }[fmt]
    result = CliRunner().invoke(main, ["explain", str(path), "--format", fmt])
    assert result.exit_code == 0, result.output
    assert result.output == want


def test_flow_stream_told_reopens_a_stream_a_copy_comes_back_to(tmp_path: Path) -> None:
    """FlowStream.told tells a stream when it ends; a copy inside the horizon reopens it (told again, with the
    copy), and what comes out is what FlowStream's iteration hands out: the same streams in the same order, the
    same segments with the same fields."""
    from tcptrace.engine import FlowStream
    from tcptrace.model import Segment

    path = _told_capture(tmp_path / "told.pcap")
    # settles: the C engine's packets pass's own mark (told() reads that pass when the engine is built)
    fields = [name for name in Segment.__slots__ if name not in ("_options", "settles")]

    def row(seg: Segment) -> tuple:
        return tuple(getattr(seg, name, None) for name in fields)

    want = [(ff.stream, [row(x) for x in ff.segments]) for ff in FlowStream(path)]
    tellings: list[int] = []

    def tell(ff: object) -> list[tuple]:
        tellings.append(ff.stream)  # type: ignore[attr-defined]
        return [row(x) for x in ff.segments]  # type: ignore[attr-defined]

    fs = FlowStream(path)
    assert list(fs.told(tell)) == want
    assert sorted(tellings) == [0, 1, 1, 2, 3, 4]  # stream 1 told at its close, and again with the FIN's copy
    assert fs.late == {0: 1}
