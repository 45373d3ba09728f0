"""Ladder diagrams: the layout as data (tcptrace.ladder), its text renderers, and the matplotlib drawing
(tcptrace.diagram), on the real sample captures."""

# Expected texts contain the en dash of frame ranges and the full-width punctuation of the Chinese catalogue.
# ruff: noqa: RUF001

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from tcptrace import diagram
from tcptrace.analysis import A_DUPLICATE_ACK, analysis_names
from tcptrace.diagram import CjkFontWarning, draw_ladder, layout, save_ladder
from tcptrace.engine import Pipeline
from tcptrace.errors import TcptraceError
from tcptrace.ladder import (
    ARROW_DROP,
    CATEGORY_COLORS,
    COLLAPSE_MIN_RUN,
    TEXTS,
    Ladder,
    build_ladder,
    ladder_for,
    mermaid_escape,
    render_ascii,
    render_mermaid,
    render_plantuml,
)
from tcptrace.model import FIN, RST, SYN

CAPTURES = ["echo_ipv4", "refused", "lossy_bulk", "zero_window", "abort_rst", "half_close"]
_CACHE: dict[tuple[str, str, bool, str], Ladder] = {}


def lad(name: str, lang: str = "en", *, collapse: bool = True, spacing: str = "time") -> Ladder:
    key = (name, lang, collapse, spacing)
    if key not in _CACHE:
        _CACHE[key] = ladder_for(SAMPLES / f"{name}.pcap", 0, lang=lang, collapse=collapse, spacing=spacing)
    return _CACHE[key]


def arrow_patches(ax: object) -> list[FancyArrowPatch]:
    patches = getattr(ax, "patches", [])
    return [p for p in patches if isinstance(p, FancyArrowPatch) and (p.get_gid() or "").startswith("arrow-")]


def texts_of(ax: object) -> list[str]:
    return [t.get_text() for t in getattr(ax, "texts", [])]


# --- the ladder as data ---------------------------------------------------------------------------------


def test_echo_arrows_labels_and_states() -> None:
    ladder = lad("echo_ipv4")
    assert [a.frame for a in ladder.arrows] == list(range(3, 13))
    assert [a.label for a in ladder.arrows[:6]] == [
        "SYN  seq=0",
        "SYN, ACK  seq=0 ack=1",
        "ACK  seq=1 ack=1",
        "PSH, ACK  seq=1 ack=1 len=2",
        "ACK  seq=1 ack=3",
        "PSH, ACK  seq=1 ack=3 len=2",
    ]
    assert [a.from_client for a in ladder.arrows[:3]] == [True, False, True]
    client = [m.state for m in ladder.states if m.side == "client"]
    server = [m.state for m in ladder.states if m.side == "server"]
    assert client == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "TIME_WAIT"]
    assert server == ["LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert [b.phase for b in ladder.bands] == ["handshake", "data", "teardown"]
    assert ladder.client == f"{ladder.client_endpoint} (client)"
    assert ladder.server == "10.99.0.1:20000 (server)"


def test_state_marks_sit_at_the_sender_or_the_receiver_end() -> None:
    ladder = lad("echo_ipv4")
    syn = ladder.arrows[0]
    marks = {m.side: m.y for m in ladder.states if m.frame == syn.frame}
    assert marks["client"] == syn.y  # the sender changes state when it sends
    assert marks["server"] > syn.y  # the receiver when the segment arrives


@pytest.mark.parametrize("name", CAPTURES)
def test_time_spacing_is_monotone_and_labels_never_share_a_row(name: str) -> None:
    ladder = lad(name)
    spans = sorted([(a.y, a.y + ARROW_DROP) for a in ladder.arrows] + [(c.y, c.y + c.height) for c in ladder.collapsed])
    # at least half a row between one item's end and the next one's start: room for the next arrow's label
    assert all(b[0] - a[1] >= 0.5 for a, b in itertools.pairwise(spans))
    ts = [a.t for a in sorted(ladder.arrows, key=lambda a: a.y)]
    assert ts == sorted(ts)
    assert all(b.y0 < b.y1 for b in ladder.bands)
    assert all(a.y < ladder.height for a in ladder.arrows)


def test_even_spacing_is_one_row_per_arrow() -> None:
    ladder = lad("half_close", spacing="even")
    data = [a.y for a in ladder.arrows if a.frame >= 8]  # all in the teardown band, no band header between
    assert {round(b - a, 9) for a, b in itertools.pairwise(data)} == {1.0}
    assert ladder.gaps == ()


def test_long_idle_periods_are_compressed_and_marked() -> None:
    ladder = lad("zero_window")
    seconds = sorted(g.seconds for g in ladder.gaps)
    assert seconds
    assert seconds[-1] > 0.8
    assert all("later" in g.text for g in ladder.gaps)
    # ~2 s of stall drawn in a few rows each: the whole 83-segment flow stays near one row per arrow
    assert ladder.height < 1.5 * len(ladder.arrows) + 20


def test_half_close_keeps_data_after_fin_under_teardown() -> None:
    ladder = lad("half_close")
    teardown = next(b for b in ladder.bands if b.phase == "teardown")
    after_fin = [a for a in ladder.arrows if a.frame in (9, 11, 13)]
    assert all(teardown.y0 <= a.y < teardown.y1 for a in after_fin)


def test_categories_of_anomalies() -> None:
    assert [(a.frame, a.category) for a in lad("refused").arrows] == [(3, "handshake"), (4, "rst")]
    assert lad("abort_rst").arrows[-1].category == "rst"
    zw = {a.frame: a for a in lad("zero_window").arrows}
    assert zw[11].category == "zero_window"
    assert zw[11].note == "[TCP ZeroWindow]"
    assert "win=0" in zw[11].label
    assert zw[10].category == "retransmission"
    assert zw[12].category == "keep_alive"
    lossy = {a.frame: a for a in lad("lossy_bulk").arrows}
    assert lossy[72].category == "retransmission"
    assert lossy[72].note == "[TCP Fast Retransmission]"
    assert lossy[36].category == "dup_ack"
    assert lossy[36].note == "[TCP Dup ACK 35#1]"


def test_collapse_keeps_a_lossy_bulk_flow_readable() -> None:
    run = Pipeline(SAMPLES / "lossy_bulk.pcap")
    segs = [s for s in run if s.stream == 0]
    summary = next(x for x in run.summaries if x.flow.stream == 0)
    ladder = build_ladder(summary, segs)
    assert len(segs) == 640
    assert len(ladder.arrows) < 120
    shown = {a.frame for a in ladder.arrows}
    flagged = {s.frame for s in segs if (s.analysis and not _burst_tail(s)) or s.flags & (SYN | FIN | RST)}
    assert flagged <= shown
    assert {a.frame for a in ladder.arrows if a.analysis} == {
        s.frame for s in segs if s.analysis and not _burst_tail(s)
    }
    # the tail of a duplicate-ACK burst (#4 on) joins a collapsed block, as the narrative merges bursts
    assert any(_burst_tail(s) for s in segs)
    # every segment is either an arrow or in exactly one collapsed block
    assert len(ladder.arrows) + sum(c.segments for c in ladder.collapsed) == len(segs)
    assert all(c.segments >= COLLAPSE_MIN_RUN for c in ladder.collapsed)
    block = ladder.collapsed[0]
    assert re.fullmatch(r"frames 7–35: the server sends [\d.]+ kB in \d+ segments; the client answers with \d+ ACKs",
                        block.text)  # fmt: skip
    assert ladder.subtitle.startswith("640 segments over 268 ms; ")


def test_collapse_false_draws_every_segment() -> None:
    ladder = lad("lossy_bulk", collapse=False)
    assert len(ladder.arrows) == 640
    assert ladder.collapsed == ()


def test_localized_round_trip_and_chinese_words() -> None:
    en, zh = lad("lossy_bulk"), lad("lossy_bulk", "zh")
    assert zh.localized("en") == en
    assert en.localized("zh") == zh
    assert zh.bands[0].label == "三次握手"
    assert zh.client.endswith("（客户端）")
    assert zh.collapsed[0].text.startswith("帧 7–35：服务器用")
    assert {a.label for a in zh.arrows} == {a.label for a in en.arrows}  # flags and numbers are never translated
    with pytest.raises(ValueError, match="unknown language"):
        en.localized("fr")


def test_ladder_for_unknown_stream_and_bad_options() -> None:
    with pytest.raises(TcptraceError, match="no TCP stream 7"):
        ladder_for(SAMPLES / "echo_ipv4.pcap", 7)
    with pytest.raises(ValueError, match="spacing"):
        ladder_for(SAMPLES / "echo_ipv4.pcap", 0, spacing="log")


# --- text renderers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CAPTURES)
def test_ascii_has_one_row_per_arrow(name: str) -> None:
    ladder = lad(name)
    text = render_ascii(ladder)
    lines = text.splitlines()
    assert lines[0] == ladder.title
    assert ladder.client_endpoint in lines[3]
    assert ladder.server_endpoint in lines[3]
    rows = [ln for ln in lines if re.match(r"^\s+\d+\s+\d+\.\d{6}\s", ln)]
    assert len(rows) == len(ladder.arrows)
    for a, row in zip(ladder.arrows, rows, strict=True):
        assert row.split()[0] == str(a.frame)
        assert a.label in row
        assert ("->|" in row) if a.from_client else ("|<-" in row)
    assert sum(ln.startswith("== ") for ln in lines) == len(ladder.bands)
    assert str(ladder) == text


def test_ascii_collapsed_blocks_and_states() -> None:
    text = render_ascii(lad("lossy_bulk"))
    assert "|~ frames 7–35: the server sends" in text
    syn = next(ln for ln in text.splitlines() if "SYN  seq=0" in ln)
    assert "SYN_SENT" in syn.split("|")[0]
    assert "SYN_RECEIVED" in syn.split("|")[-1]


_MERMAID_ARROW = re.compile(r"^    [CS](->>|-->>|-x)[CS]: ")


@pytest.mark.parametrize("name", CAPTURES)
def test_mermaid_structure(name: str) -> None:
    ladder = lad(name)
    text = render_mermaid(ladder)
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert lines[2].startswith("    participant C as ")
    assert lines[3].startswith("    participant S as ")
    arrows = [ln for ln in lines if _MERMAID_ARROW.match(ln)]
    assert len(arrows) == len(ladder.arrows)
    assert sum(ln == "    end" for ln in lines) == sum(ln.startswith("    rect rgb(") for ln in lines)
    assert sum(ln.startswith("    rect ") for ln in lines) == len(ladder.bands)
    for ln in lines[1:]:  # after escaping, ";" and "#" appear only inside entity codes
        assert ";" not in re.sub(r"#\w+;", "", ln)
        assert "#" not in re.sub(r"#\w+;", "", ln)
    if ladder.collapsed:
        assert sum(ln.startswith("    Note over C,S: frames ") for ln in lines) == len(ladder.collapsed)


def test_mermaid_escapes_and_anomaly_arrows() -> None:
    assert mermaid_escape("a;b#c <d> 50%") == "a#59;b#35;c #lt;d#gt; 50#37;"
    text = render_mermaid(lad("lossy_bulk"))
    assert "    C-->>S: 36 ACK  seq=1 ack=18825 [TCP Dup ACK 35#35;1]" in text
    assert "    S-xC: 4 RST, ACK  raw seq=0 ack=1" in render_mermaid(lad("refused"))


@pytest.mark.parametrize("name", CAPTURES)
def test_plantuml_structure(name: str) -> None:
    ladder = lad(name)
    lines = render_plantuml(ladder).splitlines()
    assert lines[0] == "@startuml"
    assert lines[-1] == "@enduml"
    assert sum(ln.startswith("participant ") for ln in lines) == 2
    arrows = [ln for ln in lines if re.match(r"^[CS] -\[#[0-9a-f]{6}\](>|->|>x) [CS] : \d+ ", ln)]
    assert len(arrows) == len(ladder.arrows)
    assert [ln for ln in lines if ln.startswith("== ")] == [f"== {b.label} ==" for b in ladder.bands]
    assert any(ln.startswith("note left of C : ") for ln in lines)


# --- drawing --------------------------------------------------------------------------------------------


def test_importing_does_not_import_matplotlib() -> None:
    code = "import sys, tcptrace.ladder, tcptrace.diagram; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", CAPTURES)
def test_drawn_figure_structure(name: str) -> None:
    ladder = lad(name)
    ax = draw_ladder(ladder)
    assert isinstance(ax.figure, Figure)
    assert len(arrow_patches(ax)) == len(ladder.arrows)
    texts = texts_of(ax)
    assert any(t.startswith("SYN") for t in texts)
    margin = {t.get_gid(): t.get_text() for t in ax.texts}
    for a in ladder.arrows:  # frame numbers (and times) in the left margin
        assert margin[f"frame-{a.frame}"].split() == [f"{a.frame:,}", f"{a.t:.6f}"]
    for m in ladder.states:
        assert m.state in texts
    for b in ladder.bands:
        assert b.label in texts
    assert ladder.client_endpoint + "\nclient" in texts
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [TEXTS["en"]["cat." + c] for c in ladder.categories()]
    collapsed = [p for p in ax.patches if (p.get_gid() or "").startswith("collapsed-")]
    assert len(collapsed) == len(ladder.collapsed)


def test_anomaly_arrows_have_their_colours_and_legend_entries() -> None:
    checks = [("lossy_bulk", "retransmission", 72), ("lossy_bulk", "dup_ack", 36), ("refused", "rst", 4),
              ("zero_window", "zero_window", 11), ("zero_window", "keep_alive", 12)]  # fmt: skip
    for name, category, frame in checks:
        ax = draw_ladder(lad(name))
        patch = next(p for p in arrow_patches(ax) if p.get_gid() == f"arrow-{frame}")
        assert patch.get_edgecolor() == pytest.approx(to_rgba(CATEGORY_COLORS[category]))
        legend = ax.get_legend()
        assert legend is not None
        colours = {t.get_text(): h.get_color() for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
        assert colours[TEXTS["en"]["cat." + category]] == CATEGORY_COLORS[category]
    normal = next(p for p in arrow_patches(draw_ladder(lad("echo_ipv4"))) if p.get_gid() == "arrow-6")
    assert normal.get_edgecolor() == pytest.approx(to_rgba(CATEGORY_COLORS["normal"]))


def test_arrows_start_and_end_on_the_lifelines() -> None:
    ladder = lad("echo_ipv4")
    geo = layout(ladder)
    assert 0 < geo.x_client < geo.x_server < geo.width_in
    for spec in geo.arrows:
        assert {spec.x0, spec.x1} == {geo.x_client, geo.x_server}
        assert spec.y1 > spec.y0  # sloping downwards: received after it was sent
    assert geo.top < min(s.y for s in geo.texts)
    assert max(s.y for s in geo.texts) < geo.bottom


def test_collapsed_lossy_flow_draws_fewer_than_120_arrows() -> None:
    ax = draw_ladder(lad("lossy_bulk"))
    gids = {p.get_gid() for p in arrow_patches(ax)}
    assert len(gids) < 120
    run = Pipeline(SAMPLES / "lossy_bulk.pcap")
    assert {f"arrow-{s.frame}" for s in run if analysis_names(s.analysis) and not _burst_tail(s)} <= gids


def _burst_tail(seg: object) -> bool:
    """A duplicate ACK after the third of its burst (drawn inside a collapsed block)."""
    ev = getattr(seg, "evidence", None) or {}
    return bool(getattr(seg, "analysis", 0) == A_DUPLICATE_ACK and ev.get("duplicate_ack", {}).get("number", 0) > 3)


def test_draw_on_a_given_axes_and_width() -> None:
    fig = Figure(figsize=(8, 6))
    ax = fig.add_subplot()
    assert draw_ladder(lad("refused"), ax) is ax
    assert layout(lad("refused"), width=9.5).width_in == 9.5
    with pytest.raises(ValueError, match="too narrow"):
        layout(lad("refused"), width=2)


@pytest.mark.parametrize("name", ["echo_ipv4", "refused"])
def test_every_format_writes_a_valid_file(name: str, tmp_path: Path) -> None:
    ladder = lad(name)
    save_ladder(ladder, tmp_path / "l.png", dpi=80)
    save_ladder(ladder, tmp_path / "l.svg")
    save_ladder(ladder, tmp_path / "l.PDF")
    assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ET.parse(tmp_path / "l.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len([e for e in root.iter() if (e.get("id") or "").startswith("arrow-")]) == len(ladder.arrows)
    assert (tmp_path / "l.PDF").read_bytes()[:5] == b"%PDF-"
    assert ladder._repr_png_()[:4] == b"\x89PNG"


def test_save_refuses_unknown_formats_and_oversized_png(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"use \.png, \.svg or \.pdf"):
        save_ladder(lad("refused"), tmp_path / "l.jpg")
    assert not (tmp_path / "l.jpg").exists()
    with pytest.raises(ValueError, match="more than a PNG can hold"):
        save_ladder(lad("lossy_bulk", collapse=False), tmp_path / "big.png", dpi=600)


def test_png_is_reproducible() -> None:
    from tcptrace.diagram import render_png

    assert render_png(lad("echo_ipv4"), dpi=60) == render_png(lad("echo_ipv4"), dpi=60)


def test_svg_and_pdf_are_reproducible(tmp_path: Path) -> None:
    """The same ladder gives the same file: no dates, and SVG ids from a fixed salt (matplotlib's default salt is a
    random UUID per file, so its clip-path and marker ids changed from one run to the next)."""
    for fmt in ("svg", "pdf"):
        save_ladder(lad("abort_rst"), tmp_path / f"a.{fmt}")
        save_ladder(lad("abort_rst"), tmp_path / f"b.{fmt}")
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes(), fmt


def test_chinese_falls_back_to_english_without_a_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram, "find_cjk_font", lambda: None)
    with pytest.warns(CjkFontWarning, match="no CJK font"):
        ax = draw_ladder(lad("echo_ipv4", "zh"))
    texts = texts_of(ax)
    assert "Three-way handshake" in texts
    assert not any(re.search(r"[\u4e00-\u9fff]", t) for t in texts)
    legend = ax.get_legend()
    assert legend is not None
    assert legend.get_texts()[0].get_text() == "handshake (SYN)"


def test_chinese_with_a_cjk_font(tmp_path: Path) -> None:
    font = diagram.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (e.g. apt install fonts-noto-cjk or fonts-wqy-microhei)")
    ladder = lad("echo_ipv4", "zh")
    ax = draw_ladder(ladder)
    texts = texts_of(ax)
    assert "三次握手" in texts
    assert ladder.title in texts
    zh_text = next(t for t in ax.texts if t.get_text() == "三次握手")
    assert font in zh_text.get_fontfamily()
    save_ladder(ladder, tmp_path / "zh.png", dpi=60)
    assert (tmp_path / "zh.png").read_bytes()[:4] == b"\x89PNG"


def test_png_keeps_every_category_colour_exact(tmp_path: Path) -> None:
    from PIL import Image

    for name in ("refused", "zero_window"):
        ladder = lad(name)
        save_ladder(ladder, tmp_path / f"{name}.png", dpi=110)
        with Image.open(tmp_path / f"{name}.png") as im:
            assert im.mode == "P"  # a palette image: small files
            colours = {c for _, c in im.convert("RGB").getcolors(1 << 20) or []}
        assert (255, 255, 255) in colours
        for category in ladder.categories():
            rgb = tuple(round(v * 255) for v in to_rgba(CATEGORY_COLORS[category])[:3])
            assert rgb in colours, category


def test_the_zh_extra_draws_chinese_without_missing_glyphs(tmp_path: Path) -> None:
    """With ``pip install 'tcptrace[zh]'`` the packaged Noto Sans CJK is registered and every label of a Chinese
    ladder has its glyphs in it: no warning of any kind while drawing and saving (matplotlib warns per missing
    glyph), and the font file's character map covers each character drawn."""
    import warnings

    from matplotlib.ft2font import FT2Font

    path = diagram.packaged_cjk_font()
    if path is None:
        pytest.skip("the zh extra is not installed (pip install 'tcptrace[zh]')")
    from matplotlib import font_manager

    family = FT2Font(path).family_name
    assert diagram.find_cjk_font() == family  # installed on purpose: chosen before any system font
    assert family in {f.name for f in font_manager.fontManager.ttflist}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ladder = lad("lossy_bulk", "zh")
        ax = draw_ladder(ladder)
        save_ladder(ladder, tmp_path / "zh.svg")
        save_ladder(ladder, tmp_path / "zh.png", dpi=60)
    assert [str(w.message) for w in caught] == []
    texts = texts_of(ax)
    zh_text = next(t for t in ax.texts if t.get_text() == "三次握手")
    assert family in zh_text.get_fontfamily()
    assert "三次握手" in texts
    drawn = {ch for t in texts for ch in t if re.match(r"[\u3000-\u9fff\uff00-\uffef]", ch)}
    assert len(drawn) > 20
    charmap = FT2Font(path).get_charmap()
    assert sorted(ch for ch in drawn if ord(ch) not in charmap) == []
