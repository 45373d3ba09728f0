"""`tcptrace explain` from the C engine's packets pass (engine.FlowStream.told reading Engine.packets, each summary
from the engine's records) against the pure-Python reference (the Pipeline: Python tracker, analyser and
summaries), byte for byte: the whole document in every format and option on the sample captures, the JSON document
(steps, facts, the flow summary with its Zeek and classic blocks) on every corpus capture, and the streams told,
in the order told, on random packet sequences with a short horizon (ends, late copies that reopen a stream,
resets after resets, reused ports, timestamps that go back).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engine import CORPUS_FILES, _build, _decode_cases, _packet, _pcapng_cases
from test_narrate import _told_capture

from tcptrace.engine import FinishedFlow, FlowStream
from tcptrace.narrate import ExplainDocument, narrate_flow

if os.environ.get("TCPTRACE_REQUIRE_ENGINE") != "1":
    pytest.importorskip("tcptrace._engine", reason="C engine not built: the Python path is the one")

CAPTURES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


def _document(path: Path | str, engine: str, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> str:
    """What ``tcptrace explain`` prints for ``path`` (ExplainDocument's pieces), or the error."""
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    try:
        with ExplainDocument(path, **kw) as doc:
            return "".join(doc.pieces()) + f"\nmissing {doc.missing} of {doc.streams_total}; late {doc.late}"
    except Exception as exc:  # the same error either way is agreement too
        return f"{type(exc).__name__}: {exc}"


def _assert_same(path: Path | str, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> None:
    ref = _document(path, "python", monkeypatch, **kw)
    got = _document(path, "c", monkeypatch, **kw)
    if got != ref:
        a, b = ref.split("\n"), got.split("\n")
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        pytest.fail(
            f"explain {kw} differs at line {first}:\n  python: {a[first : first + 3]}\n  engine: {b[first : first + 3]}"
        )


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_samples_identical(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(path, monkeypatch)
    _assert_same(path, monkeypatch, fmt="json")


@pytest.mark.parametrize(
    "kw",
    [
        {"fmt": "markdown"},
        {"fmt": "html"},
        {"verbose": True},
        {"fmt": "json", "verbose": True, "absolute": True},
        {"max_steps": 3},
        {"lang": "zh"},
        {"lang": "zh", "fmt": "json", "max_steps": 5},
        {"stream": [1]},
        {"ports": [80]},
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_options_identical(kw: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("lossy_bulk.pcap", "port_reuse.pcap", "abort_rst.pcap", "rst_after_close.pcap"):
        if (SAMPLES / name).exists():
            _assert_same(SAMPLES / name, monkeypatch, **kw)


def test_corpus_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [p for p in CORPUS_FILES if Path(p).exists()]
    if not files:
        pytest.skip("the public corpus (../shared/corpus) is not here")
    for path in files:
        _assert_same(path, monkeypatch, fmt="json")


@pytest.mark.parametrize("name", sorted(_pcapng_cases()))
def test_built_pcapng_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pcapng walked in C, or block by block in Python (link types the C walk leaves to Python): either way the
    engine has paused after each segment that may end a stream when FlowStream.told asks about it."""
    path = tmp_path / (name + ".pcapng")
    path.write_bytes(_pcapng_cases()[name])
    _assert_same(path, monkeypatch, fmt="json")


@pytest.mark.parametrize("name", sorted(_decode_cases()))
def test_decode_cases_identical(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / (name + ".pcap")
    path.write_bytes(_decode_cases()[name])
    _assert_same(path, monkeypatch, fmt="json")


def _told(path: Path, engine: str, monkeypatch: pytest.MonkeyPatch, horizon_ns: int) -> list[Any]:
    """Each stream as FlowStream.told tells it with ``horizon_ns``, in the order told (the JSON of its narrative,
    the summary and the previous stream's included), then the late counts and the number of streams."""
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)

    def tell(ff: FinishedFlow) -> str:
        n = narrate_flow(ff.summary, ff.segments, previous=ff.previous)
        return json.dumps(n.to_dict(), sort_keys=True)

    try:
        fs = FlowStream(path, horizon_ns=horizon_ns)
        return [*fs.told(tell), fs.late, fs.streams_total]
    except Exception as exc:
        return [f"{type(exc).__name__}: {exc}"]


def test_a_reopened_stream_told_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream told at its close and again with a copy of its FIN inside the horizon, and a copy after it (late)."""
    path = _told_capture(tmp_path / "told.pcap")
    ref = _told(path, "python", monkeypatch, 2_000_000_000)
    assert ref[-2] == {0: 1}  # the capture does what it says: stream 0 gets a late segment
    assert _told(path, "c", monkeypatch, 2_000_000_000) == ref


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spec=st.lists(_packet, min_size=1, max_size=60),
    isn=st.sampled_from([1, 0xFFFFFF00]),
    link=st.sampled_from(["ether", "ipv6"]),
    horizon_ns=st.sampled_from([0, 1_000_000, 300_000_000]),
)
def test_random_sequences_told_the_same(
    spec: list[dict[str, Any]], isn: int, link: str, horizon_ns: int, tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: Any,
) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("rand") / "r.pcap"
    path.write_bytes(_build(spec, isn, link))
    assert _told(path, "c", monkeypatch, horizon_ns) == _told(path, "python", monkeypatch, horizon_ns)
