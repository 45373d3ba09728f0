"""Narrative truth on abnormal traffic (issue 11): facts and state sequences on real captures, and properties
that must hold on every sample and every corpus capture.

The captures are real traffic recorded by sample_pcaps/record.sh (see sample_pcaps/README.md for each one's
frames); ../shared/corpus holds other projects' public captures. Assertions read the steps' ``facts`` and the
states, not sentences, except where the sentence itself is what is being checked.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from conftest import CORPUS, SAMPLES

from tcptrace.engine import Pipeline
from tcptrace.errors import TcptraceError
from tcptrace.events import classify, resolve_states
from tcptrace.ladder import ladder_for
from tcptrace.model import ACK, RST, SYN, Segment
from tcptrace.narrate import explain
from tcptrace.state import TRANSITIONS, TcpState
from tcptrace.stats import FlowSummary


def flows(path: Path) -> list[tuple[FlowSummary, list[Segment]]]:
    run = Pipeline(path)
    by: dict[int, list[Segment]] = {}
    for seg in run:
        by.setdefault(seg.stream, []).append(seg)
    return [(s, by[s.flow.stream]) for s in run.summaries if s.flow.stream in by]


def states_of(segs: list[Segment], side: int) -> list[tuple[int, str]]:
    resolve_states(segs)
    return [(s.frame, str(s.client_state if side == 0 else s.server_state)) for s in segs]


def steps(name: str, verbose: bool = True, lang: str = "en"):  # type: ignore[no-untyped-def]
    (flow,) = explain(SAMPLES / name, lang=lang, verbose=verbose).flows
    return flow.steps


# --- the defects of issue 11, each on the real capture that shows it ---------------------------------------


def test_fin_resent_into_time_wait_is_a_retransmission_not_a_reset() -> None:
    # fin_lost.pcap: server FIN (10), client ACK (11), client FIN (12), server ACK (13) captured but dropped in
    # the client's namespace, client FIN again (14), server re-ACKs from TIME_WAIT (15).
    ((_summary, segs),) = flows(SAMPLES / "fin_lost.pcap")
    client = dict(states_of(segs, 0))
    assert [client[f] for f in (12, 13, 14, 15)] == ["LAST_ACK", "LAST_ACK", "LAST_ACK", "CLOSED"]
    assert dict(states_of(segs, 1))[13] == "TIME_WAIT"
    s = steps("fin_lost.pcap")
    texts = " ".join(x.text for x in s)
    assert "RST" not in texts
    assert "reset" not in texts.lower()
    assert "Unexpected" not in texts
    assert texts.count("enters FIN_WAIT_1") == 1
    again = next(x for x in s if x.kind == "fin_retransmission")
    assert again.frames == (14,)
    assert again.facts["copy"] == 1
    assert again.facts["ack_lost"] is True
    assert again.facts["first_frame"] == 12
    reack = next(x for x in s if x.frames == (15,))
    assert reack.kind == "fin_ack"
    assert reack.facts["again"] is True
    assert "TIME_WAIT is for" in reack.text


def test_simultaneous_close_follows_rfc_arcs() -> None:
    # finish_both_close.pcap: FINs cross (20 client, 21 server whose ack does not cover the client's FIN)
    ((_, segs),) = flows(SAMPLES / "finish_both_close.pcap")
    server = [st for _, st in states_of(segs, 1)]
    client = [st for _, st in states_of(segs, 0)]
    assert "CLOSE_WAIT" not in server
    assert "CLOSE_WAIT" not in client
    assert dict(states_of(segs, 1))[21] == "CLOSING"
    assert dict(states_of(segs, 0))[21] == "CLOSING"
    second = next(x for x in steps("finish_both_close.pcap") if x.kind == "fin_second")
    assert second.facts["crossed"] is True
    assert second.facts["acking"] is False
    assert "ESTABLISHED to FIN_WAIT_1" in second.text


def test_refused_server_is_closed_throughout() -> None:
    ((_, segs),) = flows(SAMPLES / "refused.pcap")
    assert [st for _, st in states_of(segs, 1)] == ["CLOSED", "CLOSED"]
    lad = ladder_for(SAMPLES / "refused.pcap")
    assert {m.state for m in lad.states if m.side == "server"} == {"CLOSED"}
    assert lad.arrows[-1].label == "RST, ACK  raw seq=0 ack=1"
    rst = steps("refused.pcap")[-1]
    assert rst.kind == "refused"
    assert rst.facts["seq_raw"] == 0
    assert rst.facts["ack_raw"] == (rst.facts["syn_seq_raw"] + 1) & 0xFFFFFFFF
    assert "SYN's seq + 1" in rst.text
    j = explain(SAMPLES / "refused.pcap").to_dict()["flows"][0]["steps"]
    assert [(x["client_state"], x["server_state"]) for x in j] == [("SYN_SENT", "CLOSED"), ("CLOSED", "CLOSED")]


def test_data_and_fin_retransmission_back_off() -> None:
    # data_backoff.pcap: 100 bytes (frame 10) re-sent 5 times (11-15) while the server drops them; FIN (18)
    # re-sent 3 times (19-21).
    s = steps("data_backoff.pcap")
    copies = [x for x in s if x.kind == "data" and "retrans.timeout" in x.notes]
    assert [x.frames[0] for x in copies] == [11, 12, 13, 14, 15]
    last = next(x for x in s if x.frames == (15,))
    assert "backoff" in last.notes
    intervals = re.findall(r"(\d+\.\d+) (ms|s)(?:,| apart)", last.text.split("copies left")[1])
    assert len(intervals) == 5
    fins = [x for x in s if x.kind == "fin_retransmission"]
    assert [x.facts["copy"] for x in fins] == [1, 2, 3]
    assert fins[-1].facts["intervals_ns"][-1] > 1.6 * fins[-1].facts["intervals_ns"][-2]
    assert fins[-1].facts["arrives"] is True
    assert fins[-1].server_state == "CLOSE_WAIT"
    # the FIN's first copies never arrived: the server stays ESTABLISHED until the copy that does
    assert next(x for x in s if x.kind == "fin").server_state == "ESTABLISHED"
    # an ACK answering a timeout retransmission at once is not a delayed ACK
    assert not any("delayed ACK" in x.text for x in s)


def test_sack_retransmission_told_as_such_and_dsack_explained() -> None:
    s = steps("sack_dsack.pcap")
    ooo = [x for x in s if "out_of_order" in x.flags and any(n.startswith("retrans.") for n in x.notes)]
    for x in ooo:  # Wireshark's flag stays, the story says it is a re-send and why Wireshark differs
        assert "Wireshark labels it Out-Of-Order" in x.text
        assert "first sent in frame" in x.text
    assert any("dsack" in x.notes for x in s), "no D-SACK explained"
    assert any("sack" in x.notes for x in s)
    fin = next(x for x in s if x.kind == "fin")
    assert fin.facts["fin_seq"] == fin.facts["seq"] + fin.facts["len"]  # the FIN's own seq, after its data
    assert f"FIN (seq {fin.facts['fin_seq']}" in fin.text


def test_zero_window_probes_and_sack_dupacks() -> None:
    zw = steps("zero_window.pcap")
    assert all("zwp.linux" in x.notes for x in zw if "keep_alive" in x.flags)
    lossy = steps("lossy_bulk.pcap")
    wu = next(x for x in lossy if x.frames == (164,))  # Wireshark: window_update; the ack is stuck at a hole
    assert "window_update" in wu.flags
    assert "application read" not in wu.text
    assert "duplicate ACK" in wu.text


def test_collapsed_summary_counts_only_acks_of_new_data() -> None:
    for name in ("lossy_bulk.pcap", "zero_window.pcap", "sack_dsack.pcap", "dialogue.pcap"):
        full = {x.frames[0]: x for x in steps(name)}
        for x in steps(name, verbose=False):
            if x.kind != "summary":
                continue
            for side, d in (("c2s", 1), ("s2c", 0)):
                if f"{side}_acked_by" in x.facts:
                    acks = [f for f in range(x.frames[0], x.frames[1] + 1)
                            if f in full and full[f].facts.get("acked_new")
                            and _direction(full[f]) == d]  # fmt: skip
                    assert x.facts[f"{side}_acked_by"] == len(acks)


def _direction(step) -> int:  # type: ignore[no-untyped-def]
    return 0 if step.text.startswith("The client") else 1


def test_chinese_has_no_english_unit_mix() -> None:
    text = "\n".join(x.text for x in steps("data_backoff.pcap", lang="zh"))
    assert "byte(s)" not in text
    assert "copy" not in text
    assert "退避" in text
    assert "重传" in text


# --- properties on every sample and every corpus capture --------------------------------------------------

_CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))
if CORPUS.is_dir():
    _CAPTURES += sorted(
        p for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap", ".dmp") and p.is_file()
    )
_ARCS = {(a, b) for (a, _), b in TRANSITIONS.items()}


@pytest.mark.parametrize("path", _CAPTURES, ids=[str(p.relative_to(p.parents[1])) for p in _CAPTURES])
def test_narrative_properties(path: Path) -> None:
    try:
        items = flows(path)
    except TcptraceError as exc:  # a corpus file the reader rejects cleanly is not this test's subject (a crash is)
        pytest.skip(f"unreadable: {exc}")
    for summary, segs in items:
        for side in (0, 1):
            seq = [TcpState(st) for _, st in states_of(segs, side)]
            # every change of state is an RFC 9293 arc of the table (one input may pass through two: the FIN of a
            # crossing close applied after its sender's own FIN, or ACK-then-FIN on one segment)
            for a, b in itertools.pairwise(seq):
                if a != b:
                    assert (a, b) in _ARCS or any((a, m) in _ARCS and (m, b) in _ARCS for m in TcpState), (
                        f"stream {summary.flow.stream}: {a} -> {b}"
                    )
        events = classify(summary, segs)
        has_rst = any(s.flags & RST for s in segs)
        for e in events:
            if not has_rst:
                assert e.kind not in ("reset", "refused")
                said = " ".join(str(n.facts.get("text", "")) for n in e.notes)
                assert "the RST" not in said
                assert "reset" not in said.lower()
            if e.facts.get("delayed") or e.facts.get("delayed_ns"):
                seg = next(s for s in segs if s.frame == e.frame)
                assert 0 < seg.ack_rtt_ns <= 500_000_000
            if e.kind == "fin_retransmission":
                assert e.facts["copy"] >= 1
        first_fins = [e for e in events if e.kind == "fin"]
        assert len(first_fins) <= 1
        # each side's first FIN opens the close once; its copies are fin_retransmission, never a new close
        assert len([e for e in events if e.kind in ("fin", "fin_second")]) <= 2


# --- selection, overview and grouping ----------------------------------------------------------------------


def test_selection_that_matches_nothing_says_so() -> None:
    from click.testing import CliRunner

    from tcptrace.cli import main

    runner = CliRunner()
    r = runner.invoke(main, ["explain", str(SAMPLES / "dialogue_threaded.pcap"), "-s", "99"])
    assert r.exit_code == 2
    assert "no TCP stream 99" in r.output
    assert "it has 3 streams: 0–2" in r.output  # noqa: RUF001 -- the en dash is what users read
    r = runner.invoke(main, ["explain", str(SAMPLES / "echo_ipv4.pcap"), "--port", "1"])
    assert r.exit_code == 1
    assert "matches the selection" in r.output


def test_overview_and_alike_connections_grouped() -> None:
    nar = explain(SAMPLES / "dialogue_threaded.pcap")
    assert nar.overview() == {"connections": 3, "ended": {"graceful_close": 3}, "attention": []}
    text = str(nar)
    assert text.startswith("3 TCP connections: 3 closed normally.")
    assert nar.to_dict()["overview"]["connections"] == 3
    lossy = explain(SAMPLES / "lossy_bulk.pcap")
    assert lossy.overview()["attention"] == [0]
    # consecutive connections with the same steps, flags and verdict are told once
    # a SYN scan: 1,994 refused or unanswered connections, told as three stories and their stream lists
    scan = CORPUS / "chrissanders+packets" / "synscan.pcapng"
    if not scan.exists():
        pytest.skip("corpus capture synscan.pcapng absent")
    nar = explain(scan)
    groups = nar.groups()
    assert len(nar.flows) == 1994
    assert [len(g) for g in groups if len(g) > 1] == [1986, 3, 5]
    assert sum(len(g) for g in groups) == len(nar.flows)
    text = str(nar)
    assert "(1985 more connections) went like stream 0" in text
    assert len(text.splitlines()) < 60
    # the threaded dialogue's three clients said different things: each is told
    assert len(explain(SAMPLES / "dialogue_threaded.pcap").groups()) == 3


# --- verdict bytes from tshark's numbers ---------------------------------------------------------------------


def _oracles() -> list[tuple[Path, Path]]:
    out = [(p, SAMPLES / "tshark" / (p.name + ".tsv")) for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng")]
    oracle = CORPUS / "oracle"
    if oracle.is_dir():
        out += [(CORPUS / tsv.relative_to(oracle).as_posix()[:-4], tsv) for tsv in sorted(oracle.rglob("*.tsv"))]
    return [(c, t) for c, t in sorted(out) if c.exists() and t.exists()]


@pytest.mark.parametrize(("capture", "tsv"), _oracles(), ids=[str(c.name) for c, _ in _oracles()])
def test_verdict_bytes_are_the_sequence_span_tshark_shows(capture: Path, tsv: Path) -> None:
    """Application bytes per direction = max(tcp.seq + tcp.len) - min(tcp.seq) over tshark's data segments."""
    try:
        items = flows(capture)
    except TcptraceError as exc:
        pytest.skip(f"unreadable: {exc}")
    direction = {s.frame: (s.stream, int(s.direction)) for _, segs in items for s in segs}
    span: dict[tuple[int, int], list[int]] = {}
    for line in tsv.read_text().splitlines()[1:]:
        frame, _stream, seq, _ack, length, _win, flags, *_ = line.split("\t")
        if not length or int(length) == 0 or frame == "" or int(frame) not in direction:
            continue
        if not flags:  # a bogus data offset: tshark shows its length but dissects no further; not data to us
            continue
        key = direction[int(frame)]
        lo = int(seq) + (1 if int(flags, 16) & SYN else 0)  # a SYN's data follows its own sequence number
        lo = lo - (1 << 32) if lo >= 1 << 31 else lo  # before the relative base: negative
        hi = lo + int(length)
        cur = span.setdefault(key, [lo, hi])
        cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
    for summary, _ in items:
        for d in (0, 1):
            want = span.get((summary.flow.stream, d))
            got = summary.dirs[d].app_bytes
            assert got == (want[1] - want[0] if want else 0), f"stream {summary.flow.stream} dir {d}"


def test_nagle_named_only_where_the_capture_shows_it() -> None:
    # nagle.pcap: 8 bytes (6), the server's delayed ACK (7), nine more writes leave together right after it (8)
    held = next(x for x in steps("nagle.pcap") if x.frames == (8,))
    assert "nagle" in held.notes
    assert "Nagle's algorithm" in held.text
    assert "sticky.several" in held.notes  # and the receiver gets nine messages in one segment
    # nagle_nodelay.pcap: TCP_NODELAY, every write its own segment: no Nagle, no sticky packet
    assert not any("nagle" in x.notes for x in steps("nagle_nodelay.pcap"))
    # a bulk transfer waiting for window space is not Nagle
    assert not any("nagle" in x.notes for x in steps("zero_window.pcap"))


def test_port_reuse_right_after_rst() -> None:
    nar = explain(SAMPLES / "reuse_after_rst.pcap", verbose=True)
    assert [f.stream for f in nar.flows] == [0, 1]
    syn = nar.flows[1].steps[0]
    assert "reuse.after_rst" in syn.notes
    assert "no TIME_WAIT" in syn.text


# --- what the tutorials explain by hand ---------------------------------------------------------------------


def test_keepalive_interval_half_close_reader_and_midstream() -> None:
    ka = [x for x in steps("keepalive.pcap") if "keep_alive" in x.flags]
    assert len(ka) == 3
    assert "interval_ns" not in ka[0].facts
    assert all(0.9e9 < x.facts["interval_ns"] < 1.2e9 for x in ka[1:])  # TCP_KEEPINTVL=1
    assert "probes again" in ka[1].text
    hc = next(x for x in steps("half_close.pcap") if "data.half_close" in x.notes)
    assert "shutdown(SHUT_WR), not close()" in hc.text
    first = steps("midstream.pcap")[0]
    assert "midstream" in first.notes
    assert "window scale" in first.text


def test_close_wait_left_open_is_told() -> None:
    """A stream that ends with one side in FIN_WAIT_2 and the other in CLOSE_WAIT (a fixture built by code in
    tests/pcapgen.py, not recorded traffic: the samples all close)."""
    import pcapgen as g

    pkts = g.handshake_and_data()
    c, s = ("10.0.0.1", "10.0.0.2")
    pkts += [
        g.ipv4(g.tcp(40000, 80, 1006, 5001, g.FIN | g.ACK, 502), c, s),  # the client closes
        g.ipv4(g.tcp(80, 40000, 5001, 1007, g.ACK, 255), s, c),  # the server ACKs and never closes
    ]
    path = Path(__file__).parent / ".close_wait.pcap"
    recs = g.records([g.ether(p) for p in pkts], gap_ns=400_000_000)
    path.write_bytes(g.pcap(recs))
    try:
        (flow,) = explain(path, verbose=True).flows
    finally:
        path.unlink()
    assert (flow.steps[-1].client_state, flow.steps[-1].server_state) == ("FIN_WAIT_2", "CLOSE_WAIT")
    kinds = [x.kind for x in flow.steps]
    assert kinds[-2:] == ["linger", "linger"]
    assert "has not called close()" in flow.steps[-2].text
    assert "tcp_fin_timeout" in flow.steps[-1].text


@pytest.mark.parametrize("name", ["half_close.pcap", "lossy_bulk.pcap", "finish_server_closes.pcap"])
def test_phase_agrees_between_text_html_and_json(name: str) -> None:
    from tcptrace.narrate import render_html_flow

    nar = explain(SAMPLES / name)
    (flow,) = nar.flows
    text = str(flow)
    sections = {"handshake": "Three-way handshake", "data": "Data transfer", "teardown": "Teardown", "reset": "Reset"}
    html = render_html_flow(flow)
    for step in nar.to_dict()["flows"][0]["steps"]:
        # the heading above a step in the text is the section of its JSON phase
        before = text.split(f"[{'frame' if len(step['frames']) == 1 else 'frames'} {step['frames'][0]}")[0]
        last_heading = max((before.rfind(h), p) for p, h in sections.items())[1]
        assert last_heading == step["phase"], step
        html_before = html.split(f">[{'frame' if len(step['frames']) == 1 else 'frames'} {step['frames'][0]}")[0]
        assert max((html_before.rfind(f"<h3>{h}</h3>"), p) for p, h in sections.items())[1] == step["phase"]


@pytest.mark.parametrize(("capture", "tsv"), _oracles(), ids=[str(c.name) for c, _ in _oracles()])
def test_summary_ack_counts_from_tshark(capture: Path, tsv: Path) -> None:
    """A collapsed run's "N segments from the peer acknowledge it" = tshark's ACKs in that run whose ack moved
    past the sender's highest ack so far."""
    try:
        nar = explain(capture)
    except TcptraceError as exc:
        pytest.skip(f"unreadable: {exc}")
    items = flows(capture)
    direction = {s.frame: int(s.direction) for _, segs in items for s in segs}
    rows = {}
    for line in tsv.read_text().splitlines()[1:]:
        frame, stream, _seq, ack, _len, _win, flags, *_ = line.split("\t")
        if not ack or not flags:  # a TCP header tshark dissected only in part: it tells no ACK
            continue
        if int(frame) in direction:
            rows[int(frame)] = (int(stream), direction[int(frame)], int(ack), int(flags, 16))
    for f in nar.flows:
        best: dict[int, int] = {}
        new_ack: set[int] = set()
        for frame in sorted(k for k, v in rows.items() if v[0] == f.stream):
            _, d, ack, flags = rows[frame]
            if flags & ACK:
                if d in best and ack > best[d]:
                    new_ack.add(frame)
                best[d] = max(best.get(d, ack), ack)
        for step in f.steps:
            if step.kind != "summary":
                continue
            lo, hi = step.frames
            for side, d in (("c2s", 1), ("s2c", 0)):  # the peer's ACKs of this side's data
                if f"{side}_acked_by" in step.facts:
                    want = sum(1 for fr in new_ack if lo <= fr <= hi and rows[fr][1] == d)
                    assert step.facts[f"{side}_acked_by"] == want, (f.stream, step.frames, side)


@pytest.mark.parametrize("path", _CAPTURES, ids=[str(p.relative_to(p.parents[1])) for p in _CAPTURES])
def test_every_step_is_worded_in_every_language(path: Path) -> None:
    """Every event and note renders from the catalogue (a missing fact raises), in each language, collapsed and
    verbose; no step is empty and none says "byte(s)"."""
    from tcptrace.messages import LANGUAGES

    for lang in LANGUAGES:
        for verbose in (False, True):
            try:
                nar = explain(path, lang=lang, verbose=verbose)
            except Exception as exc:
                if type(exc).__module__.startswith("tcptrace"):
                    pytest.skip(f"unreadable: {exc}")
                raise
            for flow in nar.flows:
                for step in flow.steps:
                    assert step.text.strip(), (flow.stream, step.frames)
                    assert "byte(s)" not in step.text


def test_a_stream_is_told_once_it_ended_and_late_copies_are_counted() -> None:
    """explain streams (memory grows with open streams): a stream is told 2 s after it ended. A copy of its last
    ACK 3 s later is counted, not silently dropped. (A fixture built by code in tests/pcapgen.py.)"""
    import pcapgen as g

    c, s = ("10.0.0.1", "10.0.0.2")
    pkts = g.handshake_and_data()
    close = [
        g.ipv4(g.tcp(40000, 80, 1006, 5001, g.FIN | g.ACK, 502), c, s),
        g.ipv4(g.tcp(80, 40000, 5001, 1007, g.FIN | g.ACK, 255), s, c),
        g.ipv4(g.tcp(40000, 80, 1007, 5002, g.ACK, 502), c, s),
    ]
    recs = g.records([g.ether(p) for p in pkts + close], gap_ns=1_000_000)
    late = g.records([g.ether(close[-1])], start_ns=recs[-1].ts_ns + 3_000_000_000)
    # another connection keeps the capture going past the horizon
    other = g.records([g.ether(p) for p in g.handshake_and_data(sport=40001)], start_ns=recs[-1].ts_ns + 2_500_000_000)
    path = Path(__file__).parent / ".late.pcap"
    path.write_bytes(g.pcap(sorted(recs + other + late, key=lambda r: r.ts_ns)))
    try:
        nar = explain(path)
    finally:
        path.unlink()
    assert [f.stream for f in nar.flows] == [0, 1]
    assert nar.flows[0].late_segments == 1
    assert nar.flows[1].late_segments == 0
    assert "1 more segments of this stream came more than 2.000 s after it ended" in str(nar.flows[0])
    assert nar.to_dict()["flows"][0]["late_segments"] == 1


@pytest.mark.parametrize("path", _CAPTURES, ids=[str(p.relative_to(p.parents[1])) for p in _CAPTURES])
def test_packets_stream_in_capture_order_with_hindsight_states(path: Path) -> None:
    """`tcptrace packets` (engine.PacketStream): every segment once, in capture order; on the samples its states are
    exactly explain's (whole-stream hindsight), on other captures they may differ only where the packet that
    settles them came more than the 1 s horizon later (long round trips)."""
    from tcptrace.engine import PacketStream

    try:
        got = [(s.frame, s.stream, str(s.client_state), str(s.server_state)) for s in PacketStream(path)]
        items = flows(path)
    except Exception as exc:
        if type(exc).__module__.startswith("tcptrace"):
            pytest.skip(f"unreadable: {exc}")
        raise
    want = {}
    for _, segs in items:
        resolve_states(segs)
        want.update({(s.frame, s.stream): (str(s.client_state), str(s.server_state)) for s in segs})
    assert sorted((f, n) for f, n, *_ in got) == sorted(want)
    assert [f for f, *_ in got] == sorted(f for f, *_ in got)
    if path.parent == SAMPLES:
        assert all((a, b) == want[(f, n)] for f, n, a, b in got)
