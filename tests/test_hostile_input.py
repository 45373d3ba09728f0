"""Hostile and damaged input (issue #13): never a traceback, bounded memory and time, and the same result from
both engines. Every capture here is built by code (tests/pcapgen.py), small, and states which bytes it feeds the
reader; the bounds it checks are those of docs/limits.md ("Reading")."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pcapgen as pg
import pytest

from tcptrace import stats
from tcptrace.capture import WARNINGS_PER_KIND

T0 = 1_700_000_000_123_456_789
E = pg.Iface(1)
IP = pg.handshake_and_data()


def _engines() -> list[str]:
    return ["python", "c"] if stats.engine_module() is not None else ["python"]


def _doc(path: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    summaries, cap_stats = stats.summarize(path)
    return {"flows": [s.to_dict() for s in summaries], "stats": cap_stats.as_dict()}


def _same(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The flows and accounting, the same (byte for byte as JSON) from every engine that is built."""
    docs = [_doc(path, engine, monkeypatch) for engine in _engines()]
    for other in docs[1:]:
        assert other["stats"] == docs[0]["stats"]
        assert json.dumps(other, sort_keys=True) == json.dumps(docs[0], sort_keys=True)
    return docs[0]


def _write(tmp_path: Path, data: bytes, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _epb(iface: int, data: bytes, units: int = 0) -> bytes:
    """An enhanced packet block naming ``iface``, its timestamp ``units`` as written (little-endian)."""
    return pg.pcapng_block(
        6, struct.pack("<IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), len(data)) + data
    )


def _recs(pkts: list[bytes], iface: int = 0, start: int = T0, gap: int = 1_250_000) -> list[pg.Rec]:
    return [pg.Rec(p, start + i * gap, iface=iface) for i, p in enumerate(pkts)]


# --- warnings: the first few of a kind, then one summary line ----------------------------------------------------


def test_a_flood_of_one_warning_is_summarised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: a handshake, then 1,000 frames naming interface 3, which no block describes. The first
    WARNINGS_PER_KIND warnings are kept word for word, the rest are one line at the end; both engines agree."""
    stray = _epb(3, pg.ether(IP[0]))
    data = pg.pcapng(_recs([pg.ether(p) for p in IP]), [E]) + stray * 1000
    doc = _same(_write(tmp_path, data, "stray.pcapng"), monkeypatch)
    warnings = doc["stats"]["warnings"]
    assert warnings == [
        *(f"frame {n} names interface 3, which was never described; skipped" for n in range(6, 6 + WARNINGS_PER_KIND)),
        f"... and {1000 - WARNINGS_PER_KIND} more like this: frames naming an interface that was never described",
    ]
    assert doc["stats"]["skipped"] == {"malformed": 1000}
    assert doc["stats"]["frames"] == 1005


def test_warnings_of_different_kinds_are_counted_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built by code: frames of 7 interfaces of 7 link types tcptrace cannot decode, and 7 frames naming an
    undescribed interface, mixed: each kind keeps its own first few and gets its own summary line."""
    ifaces = [pg.Iface(1), *(pg.Iface(200 + i) for i in range(7))]
    blocks = [pg.pcapng_section(ifaces)]
    for i in range(7):
        blocks.append(_epb(1 + i, b"\x00" * 40))
        blocks.append(_epb(99, b"\x00" * 40))
    data = b"".join(blocks) + b"".join(pg.pcapng_packet(r, E) for r in _recs([pg.ether(p) for p in IP]))
    doc = _same(_write(tmp_path, data, "mixed.pcapng"), monkeypatch)
    warnings = doc["stats"]["warnings"]
    assert len(warnings) == 2 * WARNINGS_PER_KIND + 2
    assert sum("which was never described" in w for w in warnings) == WARNINGS_PER_KIND
    assert sum("its frames are skipped" in w for w in warnings) == WARNINGS_PER_KIND
    assert warnings[-2:] == [
        "... and 2 more like this: interfaces of link types tcptrace cannot decode",
        "... and 2 more like this: frames naming an interface that was never described",
    ]
