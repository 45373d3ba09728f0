"""Graphs: structural checks on the Axes against the analysis of real captures (sample_pcaps/README.md says what
each one holds), the file formats, the default direction, and flows without data."""

from __future__ import annotations

import io
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SAMPLES
from pcapgen import ACK, PSH, ether, ipv4, pcap, records, tcp

from tcptrace.analysis import A_FAST_RETRANSMISSION, A_RETRANSMISSION, A_SPURIOUS_RETRANSMISSION
from tcptrace.engine import Pipeline
from tcptrace.errors import TcptraceError
from tcptrace.graph import (
    KINDS,
    NO_DATA_TEXT,
    choose_direction,
    draw_graph,
    graph_for,
    rtt_series,
    save_graph,
    throughput_series,
    tsg_series,
)
from tcptrace.model import FIN, RST, Direction, Segment
from tcptrace.stats import FlowSummary

RETRANS = A_RETRANSMISSION | A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION


@cache
def _load(name: str) -> tuple[FlowSummary, tuple[Segment, ...]]:
    run = Pipeline(SAMPLES / name)
    segs = tuple(s for s in run if s.stream == 0)
    return next(x for x in run.summaries if x.flow.stream == 0), segs


def load(name: str) -> tuple[FlowSummary, list[Segment]]:
    summary, segs = _load(name)
    return summary, list(segs)


def artist(ax: Any, gid: str) -> Any:
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {len(found)} artists"
    return found[0]


def has(ax: Any, gid: str) -> bool:
    return any(a.get_gid() == gid for a in ax.get_children())


def legend_texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def no_data_shown(ax: Any) -> bool:
    return any(t.get_text() == NO_DATA_TEXT for t in ax.texts)


def sent(segs: Sequence[Segment], d: int) -> list[Segment]:
    return [s for s in segs if s.direction == d]


def received(segs: Sequence[Segment], d: int) -> list[Segment]:
    return [s for s in segs if s.direction != d]


# --- time-sequence graph ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "d"), [("lossy_bulk.pcap", 1), ("zero_window.pcap", 0), ("echo_ipv4.pcap", 0)])
def test_tsg_one_vertical_bar_per_data_segment(name: str, d: int) -> None:
    summary, segs = load(name)
    ax = draw_graph(summary, segs, "tsg")
    data = [s for s in sent(segs, d) if s.len]
    bars = artist(ax, "data").get_segments()
    assert len(bars) == len(data)
    for bar, seg in zip(bars, data, strict=True):  # vertical, from seq to seq + len
        (x0, y0), (x1, y1) = bar
        assert x0 == x1 == pytest.approx((seg.ts_ns - summary.first_ts) / 1e9)
        assert (y0, y1) == (seg.seq, seg.seq + seg.len)


@pytest.mark.parametrize(("name", "d"), [("lossy_bulk.pcap", 1), ("zero_window.pcap", 0), ("echo_ipv4.pcap", 0)])
def test_tsg_ack_line_ends_at_the_last_ack(name: str, d: int) -> None:
    summary, segs = load(name)
    ax = draw_graph(summary, segs, "tsg")
    acks = [s for s in received(segs, d) if s.flags & ACK]
    line = artist(ax, "ack")
    assert line.get_drawstyle() == "steps-post"
    assert len(line.get_ydata()) == len(acks)
    assert line.get_ydata()[-1] == acks[-1].ack
    assert line.get_color() == "green"
    window = artist(ax, "window")  # ack + the receiver's scaled window
    last = [s for s in acks if not s.flags & RST][-1]
    assert window.get_ydata()[-1] == last.ack + last.win


def test_tsg_lossy_marks_every_retransmission() -> None:
    summary, segs = load("lossy_bulk.pcap")
    ax = draw_graph(summary, segs, "tsg", direction="s2c")
    marks = artist(ax, "retransmission")
    expected = [s for s in sent(segs, 1) if s.analysis & RETRANS]
    # sample_pcaps/README.md: 13 segments dropped and retransmitted, frames 72, 96, 165, ...
    assert len(marks.get_xdata()) == len(expected) == summary.dirs[1].rexmt_packets == 13
    assert marks.get_marker() == "$R$"
    assert marks.get_color() == "red"
    # and the retransmitted bars themselves are red
    colors = artist(ax, "data").get_colors()
    assert sum(1 for c in colors if tuple(c[:3]) == (1.0, 0.0, 0.0)) == 13


def test_tsg_lossy_sack_blocks_are_relative() -> None:
    summary, segs = load("lossy_bulk.pcap")
    ax = draw_graph(summary, segs, "tsg")
    blocks = [b for s in received(segs, 1) for b in s.options.sack]
    sack = artist(ax, "sack").get_segments()
    assert len(sack) == len(blocks) > 0
    assert len({tuple(b[0]) for b in sack}) == 45  # README: 45 frames carry SACK blocks
    # the first SACK block (README: 20273-21721, above the hole at 18825)
    (_, left), (_, right) = sack[0]
    assert (left, right) == (20273, 21721)


def test_tsg_legend_and_labels() -> None:
    summary, segs = load("lossy_bulk.pcap")
    ax = draw_graph(summary, segs, "tsg")
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_ylabel() == "relative sequence number"
    assert legend_texts(ax) == [
        "data segments",
        "ACK",
        "receive window",
        "SACK",
        "retransmission (R)",
        "SYN",
        "FIN",
    ]
    assert "(s2c)" in ax.get_title()
    assert not no_data_shown(ax)


def test_tsg_syn_and_fin_marks() -> None:
    summary, segs = load("lossy_bulk.pcap")
    ax = draw_graph(summary, segs, "tsg")
    syn, fin = artist(ax, "syn"), artist(ax, "fin")
    assert list(syn.get_ydata()) == [0]
    fin_seg = next(s for s in sent(segs, 1) if s.flags & FIN)  # 639: last data with FIN (README)
    assert fin_seg.frame == 639
    assert list(fin.get_ydata()) == [fin_seg.seq + fin_seg.len]


def test_tsg_zero_window_probes_and_zero_windows() -> None:
    summary, segs = load("zero_window.pcap")
    ax = draw_graph(summary, segs, "tsg")
    assert "(c2s)" in ax.get_title()
    # README: 12, 14, 15 are Linux's zero-window probes (flagged keep_alive by Wireshark), sent while the
    # server advertises 0; 11, 13, 16 are the server's zero windows.
    frames = {s.frame: s for s in segs}
    probes = artist(ax, "zero_window_probe")
    assert list(probes.get_xdata()) == [pytest.approx((frames[f].ts_ns - summary.first_ts) / 1e9) for f in (12, 14, 15)]
    zero = artist(ax, "zero_window")
    assert len(zero.get_xdata()) == 3
    assert list(zero.get_ydata()) == [frames[f].ack for f in (11, 13, 16)]
    assert len(artist(ax, "retransmission").get_xdata()) == summary.dirs[0].rexmt_packets == 1
    assert "zero-window probe (P)" in legend_texts(ax)


def _mid_stream_capture(seqs: list[tuple[int, int]]) -> io.BytesIO:
    """A flow first seen mid-stream (no SYN): 10.0.0.1:40000 sends (seq, len) segments to port 80."""
    pkts = [ether(ipv4(tcp(40000, 80, seq, 7000, ACK | PSH, 502, payload=b"x" * n))) for seq, n in seqs]
    pkts.append(
        ether(ipv4(tcp(80, 40000, 7000, (seqs[-1][0] + seqs[-1][1]) & 0xFFFFFFFF, ACK, 501), "10.0.0.2", "10.0.0.1"))
    )
    return io.BytesIO(pcap(records(pkts)))


def test_tsg_unwraps_sequence_numbers() -> None:
    # A relative number one step before the base is -1, not 4294967295, and a flow past 4 GiB keeps rising.
    isn = 0xFFFFF000
    steps = [(isn, 100), ((isn - 1000) & 0xFFFFFFFF, 1000)]
    steps += [((isn + k * (1 << 30)) & 0xFFFFFFFF, 100) for k in range(1, 6)]
    run = Pipeline(_mid_stream_capture(steps))
    segs = list(run)
    summary = run.summaries[0]
    ser = tsg_series(summary, segs, Direction.C2S)
    lows = [lo for _, lo, _ in ser.bars]
    assert lows[0] == 1  # mid-stream: the first segment shows 1
    assert lows[1] == 1 - 1000
    assert lows[2:] == [1 + k * (1 << 30) for k in range(1, 6)]
    assert max(hi for _, _, hi in ser.bars) > 1 << 32


# --- throughput --------------------------------------------------------------------------------------------


def _area(xs: Sequence[float], ys: Sequence[float]) -> float:
    return sum(y * (x1 - x0) for x0, x1, y in zip(xs, xs[1:], ys, strict=False))


def test_throughput_area_is_the_bytes_sent() -> None:
    # The moving average is exact: its integral over time is the payload sent, throughput and goodput alike.
    summary, segs = load("lossy_bulk.pcap")
    ser = throughput_series(summary, segs, Direction.S2C)
    data = [s for s in sent(segs, 1) if s.len]
    assert _area(ser.t, ser.throughput) == pytest.approx(sum(s.len for s in data), rel=1e-6)
    good = sum(s.len for s in data if not s.analysis & RETRANS)
    assert _area(ser.t, ser.goodput) == pytest.approx(good, rel=1e-6)
    assert ser.throughput[-1] == ser.goodput[-1] == 0
    assert summary.to_dict()["s2c"]["throughput_Bps"] == pytest.approx(ser.mean_goodput)


def test_throughput_axes() -> None:
    summary, segs = load("lossy_bulk.pcap")
    ax = draw_graph(summary, segs, "throughput", ma_window_s=0.01)
    assert ax.get_xlabel() == "time (s)"
    assert ax.get_ylabel() == "throughput (MB/s)"  # tens of MB/s on a veth pair
    tput, good = artist(ax, "throughput"), artist(ax, "goodput")
    assert max(tput.get_ydata()) > 10
    assert all(g <= t + 1e-9 for g, t in zip(good.get_ydata(), tput.get_ydata(), strict=True))
    assert legend_texts(ax)[0] == "throughput\n(10 ms moving average)"
    assert len(legend_texts(ax)) == 3
    with pytest.raises(ValueError, match="positive"):
        draw_graph(summary, segs, "throughput", ma_window_s=0)


def test_throughput_default_window_and_units() -> None:
    summary, segs = load("echo_ipv4.pcap")
    ax = draw_graph(summary, segs, "throughput")
    assert ax.get_ylabel() == "throughput (kB/s)"  # 2 bytes in 1 ms
    assert "(1 ms moving average)" in legend_texts(ax)[0]  # default: 1/50 of the data time, at least 1 ms ...
    summary, segs = load("zero_window.pcap")
    ax = draw_graph(summary, segs, "throughput")
    assert "(40 ms moving average)" in legend_texts(ax)[0]  # ... 2 s of sending here
    summary, segs = load("lossy_bulk.pcap")
    ser = throughput_series(summary, segs, Direction.S2C)
    data = [s.ts_ns for s in sent(segs, 1) if s.len]
    assert ser.window_s == pytest.approx((data[-1] - data[0]) / 1e9 / 50)  # ... here 5.35 ms


# --- RTT -----------------------------------------------------------------------------------------------------


def test_rtt_samples_are_acks_of_data() -> None:
    summary, segs = load("lossy_bulk.pcap")
    ax = draw_graph(summary, segs, "rtt")
    data_frames = {s.frame for s in sent(segs, 1) if s.len}
    samples = [s for s in received(segs, 1) if s.ack_rtt_ns >= 0 and s.acks_frame in data_frames]
    clean, karn = artist(ax, "rtt"), artist(ax, "rtt_ambiguous")
    assert len(clean.get_xdata()) + len(karn.get_xdata()) == len(samples) > 100
    # README: 453 and 454 were dropped and resent after a timeout; the ACKs timing them from the first
    # transmission (457, 459: about 210 ms) are ambiguous under Karn's rule.
    ser = rtt_series(summary, segs, Direction.S2C)
    assert [f for f, a in zip(ser.acked_frames, ser.ambiguous, strict=True) if a] == [453, 454]
    assert sorted(karn.get_ydata()) == pytest.approx(
        sorted(s.ack_rtt_ns / 1e6 for s in samples if s.frame in (457, 459))
    )
    assert ax.get_ylabel() == "RTT (ms)"
    assert ax.get_yscale() == "log"  # 0.01 ms to 216 ms
    irtt = artist(ax, "irtt")
    assert irtt.get_ydata()[0] == pytest.approx(summary.flow.analysis.ts_first_rtt / 1e6)
    assert legend_texts(ax)[-1] == f"iRTT {summary.flow.analysis.ts_first_rtt / 1e6:.3g} ms"


def test_rtt_linear_when_the_range_is_small() -> None:
    summary, segs = load("echo_ipv4.pcap")
    ax = draw_graph(summary, segs, "rtt")
    assert ax.get_yscale() == "linear"
    assert ax.get_ylim()[0] == 0
    assert len(artist(ax, "rtt").get_xdata()) == 1  # the server's ACK of "AB"


# --- window --------------------------------------------------------------------------------------------------


def test_window_graph_zero_window() -> None:
    summary, segs = load("zero_window.pcap")
    ax = draw_graph(summary, segs, "window")
    rwin, flight, zero = artist(ax, "rwin"), artist(ax, "in_flight"), artist(ax, "zero_window")
    server = received(segs, 0)
    assert len(rwin.get_ydata()) == len(server)
    assert rwin.get_ydata()[-1] * 1000 == server[-1].win  # kB
    assert ax.get_ylabel() == "bytes (kB)"
    assert len(flight.get_ydata()) == sum(1 for s in sent(segs, 0) if s.bytes_in_flight >= 0)
    assert max(flight.get_ydata()) * 1000 <= 2896  # never more than the server's 2896-byte window
    assert len(zero.get_xdata()) == sum(1 for s in server if s.win == 0) == 3
    assert ax.get_ylim()[0] < 0 < ax.get_ylim()[1]  # the zero line is inside the plot, not on its edge
    assert legend_texts(ax) == [
        "receive window\n(advertised by the receiver)",
        "bytes in flight\n(sent, not yet ACKed)",
        "zero window advertised",
    ]


def test_window_needs_bytes_in_flight() -> None:
    run = Pipeline(SAMPLES / "lossy_bulk.pcap", track_bytes_in_flight=False)
    segs = list(run)
    ax = draw_graph(run.summaries[0], segs, "window")
    assert not has(ax, "in_flight")
    assert has(ax, "rwin")


# --- direction, kinds, empty directions ----------------------------------------------------------------------


def test_default_direction_carries_more_data() -> None:
    assert choose_direction(load("lossy_bulk.pcap")[0]) is Direction.S2C
    assert choose_direction(load("zero_window.pcap")[0]) is Direction.C2S
    assert choose_direction(load("echo_ipv4.pcap")[0]) is Direction.C2S  # 2 bytes each way: a tie
    assert choose_direction(load("refused.pcap")[0]) is Direction.C2S
    assert choose_direction(load("lossy_bulk.pcap")[0], "c2s") is Direction.C2S
    assert choose_direction(load("lossy_bulk.pcap")[0], Direction.S2C) is Direction.S2C


def test_bad_kind_and_direction() -> None:
    summary, segs = load("echo_ipv4.pcap")
    with pytest.raises(ValueError, match="kind"):
        draw_graph(summary, segs, "sequence")
    with pytest.raises(ValueError, match="direction"):
        draw_graph(summary, segs, "tsg", direction="up")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("name", "direction"), [("refused.pcap", None), ("refused.pcap", "s2c"), ("lossy_bulk.pcap", "c2s")]
)
def test_direction_without_data(kind: str, name: str, direction: Any) -> None:
    summary, segs = load(name)
    ax = draw_graph(summary, segs, kind, direction=direction)
    assert no_data_shown(ax)
    assert not has(ax, "data")
    assert ax.get_xlabel() == "time (s)"


def test_refused_tsg_shows_syn_and_reset() -> None:
    summary, segs = load("refused.pcap")
    ax = draw_graph(summary, segs, "tsg")
    assert list(artist(ax, "syn").get_ydata()) == [0]
    assert list(artist(ax, "peer_rst").get_ydata()) == [1]  # RST/ACK, ack 1
    assert not has(ax, "window")  # a reset's window is meaningless


@pytest.mark.parametrize("kind", KINDS)
def test_draws_on_the_given_axes(kind: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    summary, segs = load("zero_window.pcap")
    assert draw_graph(summary, segs, kind, ax=axes[1]) is axes[1]
    assert not axes[0].has_data()
    assert axes[1].get_xlabel() == "time (s)"


def test_segments_of_other_streams_are_ignored() -> None:
    run = Pipeline(SAMPLES / "port_reuse.pcap")
    segs = list(run)
    first = next(x for x in run.summaries if x.flow.stream == 0)
    ax = draw_graph(first, segs, "tsg")
    assert len(artist(ax, "syn").get_xdata()) == 1


# --- files ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_save_every_format(tmp_path: Path, kind: str) -> None:
    summary, segs = load("lossy_bulk.pcap")
    png, svg, pdf = tmp_path / "g.png", tmp_path / "g.svg", tmp_path / "G.PDF"
    save_graph(summary, segs, kind, png, dpi=50)
    save_graph(summary, segs, kind, str(svg))
    save_graph(summary, segs, kind, pdf)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_save_is_reproducible_and_sized(tmp_path: Path) -> None:
    summary, segs = load("zero_window.pcap")
    for name in ("a.svg", "b.svg", "a.pdf", "b.pdf"):
        save_graph(summary, segs, "window", tmp_path / name)
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    save_graph(summary, segs, "tsg", tmp_path / "w.png", dpi=100, width=8)
    ihdr = (tmp_path / "w.png").read_bytes()[16:24]
    assert (int.from_bytes(ihdr[:4], "big"), int.from_bytes(ihdr[4:], "big")) == (800, 480)  # 8 x 4.8 in


def test_save_rejects_unknown_formats(tmp_path: Path) -> None:
    summary, segs = load("echo_ipv4.pcap")
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        save_graph(summary, segs, "tsg", tmp_path / "graph.jpg")
    with pytest.raises(ValueError, match="kind"):
        save_graph(summary, segs, "ladder", tmp_path / "graph.png")
    assert not list(tmp_path.iterdir())


# --- convenience and hygiene ---------------------------------------------------------------------------------


def test_graph_for() -> None:
    ax = graph_for(SAMPLES / "lossy_bulk.pcap", 0, "rtt")
    assert ax.get_title().startswith("Round-trip time: stream 0, 10.99.0.1:20000")
    with pytest.raises(TcptraceError, match="no TCP stream 3"):
        graph_for(SAMPLES / "lossy_bulk.pcap", 3, "tsg")


def test_no_pyplot_and_lazy_matplotlib() -> None:
    # Importing tcptrace.graph costs no matplotlib; drawing never touches pyplot (no GUI backend, no global
    # figure registry).
    code = (
        "import sys, tcptrace.graph as g\n"
        "assert 'matplotlib' not in sys.modules\n"
        "g.graph_for('sample_pcaps/lossy_bulk.pcap', 0, 'tsg')\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
