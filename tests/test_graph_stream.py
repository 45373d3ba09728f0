"""Graphs of a stream read as it comes (tcptrace.graph.graph_from, save_graph_from): the same picture as from the
whole stream, and past DECIMATE_ABOVE points a series reduced to time buckets that keep, per pixel column,
exactly the extremes the full series has there, and every event mark."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import SAMPLES

from tcptrace import graph
from tcptrace.engine import Pipeline, StreamSegments
from tcptrace.graph import KINDS, save_graph, save_graph_from, throughput_series

CAPTURES = ["lossy_bulk.pcap", "zero_window.pcap", "echo_ipv4.pcap", "refused.pcap", "half_close.pcap"]


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("kind", KINDS)
def test_streamed_graph_is_the_whole_streams(name: str, kind: str, tmp_path: Path) -> None:
    """The SVG (stable ids) of the streamed graph is byte for byte the one drawn from the segments in memory,
    the direction chosen at the end as the summary says, or given."""
    run = Pipeline(SAMPLES / name)
    segs = [s for s in run if s.stream == 0]
    summary = run.summaries[0]
    for direction in (None, "c2s", "s2c"):
        a, b = tmp_path / "a.svg", tmp_path / "b.svg"
        save_graph(summary, segs, kind, a, direction=direction)  # type: ignore[arg-type]
        source = StreamSegments(SAMPLES / name, 0)
        save_graph_from(source, lambda source=source: source.summary, kind, b, direction=direction)  # type: ignore[arg-type]
        assert a.read_bytes() == b.read_bytes(), direction


def _envelope(points: list[tuple[float, ...]], width: float, m: int) -> dict[int, tuple[float, float]]:
    """Per column of ``m`` buckets: the smallest and largest value."""
    out: dict[int, tuple[float, float]] = {}
    for p in points:
        c = int(p[0] / width) // m
        lo, hi = out.get(c, (p[1], p[1]))
        out[c] = (min(lo, p[1]), max(hi, p[1]))
    return out


@pytest.mark.parametrize("mode", ["line", "dots"])
def test_reduced_series_keeps_each_columns_extremes(mode: str) -> None:
    rng = random.Random(7)
    t, points = 0.0, []
    for i in range(60_000):
        t += rng.expovariate(1000.0)
        points.append((t, rng.gauss(0, 1) + (50 if i % 9973 == 0 else 0), i % 5000 == 0))
    series = graph._Series(mode, exact=lambda p: p[2])
    for p in points:
        series.add(p)
    got = series.finish()
    assert series.width > 0
    assert len(got) <= 4 * graph.DECIMATE_BUCKETS + 20
    assert set(got) <= set(points)
    assert [p for p in got if p[2]] == [p for p in points if p[2]]  # the exact ones, all of them, in order
    assert [p[0] for p in got] == sorted(p[0] for p in got)
    for m in (1, 2, 7):  # pixel columns one bucket wide or more: each shows the same extremes
        assert _envelope(got, series.width, m) == _envelope(points, series.width, m)
    if mode == "line":
        assert got[0] == points[0]
        assert got[-1] == points[-1]


def test_reduced_bars_cover_the_same_sequence_range() -> None:
    series = graph._Series("bars", exact=lambda p: p[3])
    bars = [(i * 1e-5, i * 1000, i * 1000 + 1000, i % 777 == 0) for i in range(50_000)]
    for b in bars:
        series.add(b)
    got = series.finish()
    assert len(got) < 2 * graph.DECIMATE_BUCKETS
    assert [b for b in got if b[3]] == [b for b in bars if b[3]]
    assert min(b[1] for b in got) == 0
    assert max(b[2] for b in got) == bars[-1][2]


def test_throughput_reduced_keeps_the_extremes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numpy path of a long direction: the same values as the exact one, reduced per bucket."""
    run = Pipeline(SAMPLES / "lossy_bulk.pcap")
    segs = [s for s in run if s.stream == 0]
    summary = run.summaries[0]
    exact = throughput_series(summary, segs, graph.Direction.S2C, 0.002)
    monkeypatch.setattr(graph, "DECIMATE_ABOVE", 100)
    monkeypatch.setattr(graph, "DECIMATE_BUCKETS", 64)
    reduced = throughput_series(summary, segs, graph.Direction.S2C, 0.002)
    assert len(reduced.t) < len(exact.t)
    full = list(zip(exact.t, exact.throughput, exact.goodput, strict=True))
    got = list(zip(reduced.t, reduced.throughput, reduced.goodput, strict=True))
    assert set(got) <= set(full)
    assert got[0] == full[0]
    assert got[-1] == full[-1]
    for k in (1, 2):
        assert max(p[k] for p in got) == max(p[k] for p in full)
        assert min(p[k] for p in got) == min(p[k] for p in full)
    assert reduced.mean_goodput == exact.mean_goodput
