"""The shared vocabularies (tcptrace/vocab.py): one table each, complete, and the C engine's copy generated from it.

If test_header_is_generated fails, a Python table changed: run ``python scripts/gen_vocab_h.py``, rebuild the
engine (``pip install -e .``) and commit tcptrace/_vocab.h with the change.
"""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT

from tcptrace import analysis, check, export, ladder, stats, vocab

sys.path.insert(0, str(ROOT / "scripts"))
import gen_vocab_h
import tshark_golden

NAMES = [f.name for f in vocab.FLAGS]


def test_header_is_generated() -> None:
    committed = (ROOT / "tcptrace" / "_vocab.h").read_text(encoding="utf-8")
    assert committed == gen_vocab_h.render(), "tcptrace/_vocab.h is stale: run python scripts/gen_vocab_h.py"
    assert gen_vocab_h.main(["gen_vocab_h.py", "--check"]) == 0


def test_engine_includes_the_header_and_no_copy() -> None:
    source = (ROOT / "tcptrace" / "_engine.c").read_text(encoding="utf-8")
    assert '#include "_vocab.h"' in source
    for f in vocab.FLAGS:
        assert f"#define {f.c_name} " not in source
    for hand_copy in ("enum { S_CLOSED", "enum { CAUSE_", "#define N_INPUTS", "#define C_SYNSENT", '"adfhiqrstwg"'):
        assert hand_copy not in source


def test_every_flag_once_in_the_oracles_order() -> None:
    assert len(set(NAMES)) == len(NAMES)
    assert len({f.ws_const for f in vocab.FLAGS}) == len(vocab.FLAGS)
    assert NAMES == tshark_golden.ANALYSIS_FLAGS  # the order of every `analysis` list in our outputs
    assert list(analysis.ANALYSIS_FLAGS) == NAMES
    assert tuple((f.bit, f.name) for f in vocab.FLAGS) == analysis.FLAG_NAMES


def test_bits_are_distinct_powers_of_two() -> None:
    bits = [f.bit for f in vocab.FLAGS]
    assert all(b > 0 and b & (b - 1) == 0 for b in bits)
    assert len(set(bits)) == len(bits)
    assert sum(bits) == (1 << len(bits)) - 1  # packet-tcp.h's TCP_A_* are the first fifteen bits, none skipped


@pytest.mark.parametrize("flag", vocab.FLAGS, ids=NAMES)
def test_flag_row(flag: vocab.AnalysisFlag) -> None:
    assert flag.field == "tcp.analysis." + flag.name  # our names are Wireshark's
    assert flag.ws_const.startswith("TCP_A_")
    assert getattr(analysis, flag.c_name) == flag.bit  # analysis.A_* aliases, imported by stats, ladder ...
    assert flag.info.startswith("TCP ")
    assert flag.name in analysis.analysis_names(flag.bit)


def test_retransmission_family() -> None:
    family = {f.name for f in vocab.FLAGS if f.retransmission_kind}
    assert family == {"retransmission", "fast_retransmission", "spurious_retransmission"}
    for f in vocab.FLAGS:
        assert ("retransmission" in analysis.analysis_names(f.bit)) == f.retransmission_kind


@pytest.mark.parametrize("name", NAMES)
def test_every_consumer_covers_every_flag(name: str) -> None:
    flag = vocab.FLAG_BY_NAME[name]
    # export: the packet table's Info tags
    assert export._INFO[name] == flag.info
    # ladder: a colour (or, deliberately, none) and a note in every language
    if flag.category is not None:
        assert flag.category in ladder.CATEGORIES
        assert flag.category in vocab.LADDER_PRECEDENCE
        assert flag.colour == ladder.CATEGORY_COLORS[flag.category]
    for lang, texts in ladder.TEXTS.items():
        assert "note." + name in texts, f"ladder has no {lang} note for {name}"
    # check: every alias is a --forbid choice that matches this flag
    for alias in flag.check:
        assert name in check.FORBIDDABLE[alias]


def test_only_reused_ports_goes_uncoloured() -> None:
    # A port reuse is told by the SYN it sits on (handshake colour), not by a colour of its own.
    assert [f.name for f in vocab.FLAGS if f.category is None] == ["reused_ports"]


def test_ladder_categories() -> None:
    names = [c.name for c in vocab.LADDER_CATEGORIES]
    assert len(set(names)) == len(names)
    assert tuple(names) == ladder.CATEGORIES
    assert {c.name: c.colour for c in vocab.LADDER_CATEGORIES} == ladder.CATEGORY_COLORS
    # each category is a reason with a precedence, or an ordinary segment's phase colour
    assert set(names) == set(vocab.LADDER_PRECEDENCE) | {"handshake", "teardown", "normal"}
    assert len(set(vocab.LADDER_PRECEDENCE)) == len(vocab.LADDER_PRECEDENCE)
    for texts in ladder.TEXTS.values():
        assert all("cat." + n in texts for n in names)


def test_forbid_events() -> None:
    aliases = {a for f in vocab.FLAGS for a in f.check}
    assert set(vocab.FORBID_EVENTS) == aliases | {"rst"}
    assert tuple(check.FORBIDDABLE) == vocab.FORBID_EVENTS
    assert all(check.FORBIDDABLE[e] for e in vocab.FORBID_EVENTS)
    assert check.FORBIDDABLE["lost-segment"] == ("lost_segment", "ack_lost_segment")


def test_completeness_bits_agree() -> None:
    """stats.py names Wireshark's completeness bits for its own code; they must say what vocab.py says."""
    for name, bit in vocab.COMPLETENESS:
        assert getattr(stats, "C_" + name) == bit


def test_the_engine_hands_back_named_direction_records() -> None:
    """Across the C/Python seam the per-direction counters travel by name (a struct sequence whose fields come
    from vocab.ENGINE_DIR_RECORD), not as a positional 37-tuple."""
    engine = pytest.importorskip("tcptrace._engine")
    from tcptrace.engine import _engine_tables
    from tcptrace.stats import DirStats
    from tcptrace.vocab import ENGINE_DIR_FIELDS, ENGINE_DIR_RECORD

    assert engine.DirRecord.n_fields == len(ENGINE_DIR_RECORD)
    assert set(ENGINE_DIR_FIELDS) <= set(DirStats.__slots__)
    eng = engine.Engine(*_engine_tables())
    from tcptrace.capture import open_capture

    open_capture(ROOT / "sample_pcaps" / "echo_ipv4.pcap").feed(eng)
    flow = eng.flow(0)
    assert type(flow).__name__ == "FlowRecord"
    assert engine.FlowRecord.n_fields == len(vocab.ENGINE_FLOW_RECORD)
    assert engine.LifecycleRecord.n_fields == len(vocab.ENGINE_LIFECYCLE_RECORD)
    assert eng.lifecycle(0).server_port == 20000
    rec = flow.client
    assert type(rec).__name__ == "DirRecord"
    assert rec.packets == 6
    assert rec.data_bytes == 2
    assert len(rec.flag_counts) == len(vocab.FLAGS)
