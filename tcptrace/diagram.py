"""Ladder diagrams drawn with matplotlib: a pure :func:`layout` and a thin :func:`draw_ladder`.

Theory of operation. :mod:`tcptrace.ladder` says *what* is on the ladder (arrows, states, bands, collapsed runs,
each with a vertical position in rows). :func:`layout` decides *where and how* in a figure: inches across, rows
down (:data:`ROW_IN` inches each), which text goes where in which size and colour, how wide the figure must be
for the longest label. It returns plain frozen values, so the geometry is testable without drawing.
:func:`draw_ladder` turns those into matplotlib artists on an Axes and returns the Axes (seaborn style);
:func:`save_ladder` writes PNG, SVG or PDF. This is the only module that imports matplotlib for ladders, and it
does so inside the functions, so ``import tcptrace`` stays fast; it uses ``Figure`` + ``FigureCanvasAgg``, never
pyplot, so nothing global (the pyplot figure registry, interactive backends) is touched.

Chinese labels need a CJK font: :func:`find_cjk_font` looks for one among matplotlib's fonts. Without one,
drawing ``lang="zh"`` warns :class:`CjkFontWarning` and draws the English labels instead of boxes ("tofu").
The ``zh`` extra (``pip install 'tcptrace[zh]'``) brings one as a Python package (:data:`CJK_FONT_PACKAGES`).
"""

from __future__ import annotations

import io
import math
import os
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from .ladder_values import ARROW_DROP, BAND_COLORS, CATEGORY_COLORS, INITIAL_STATE_Y, TEXTS, Ladder
from .output import PNG_MAX_SIDE, check_png_size, replacing

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ROW_IN = 0.27  # inches per row: one arrow and its label
FORMATS = ("png", "svg", "pdf")
PNG_MAX_PIXELS = PNG_MAX_SIDE  # Agg cannot rasterise a side longer than 2**16 pixels (and see PNG_MAX_AREA)
PNG_PALETTE = 256  # colours in a PNG's palette
PNG_SAMPLE_PIXELS = 250_000  # the antialiasing shades are chosen on a copy reduced to about this size (median cut
# on a million pixels took a quarter of a 9-arrow ladder's drawing; on a quarter of them 5 % of the pixels, antialiasing
# shades, come out a few levels different)

# Font sizes in points.
SIZE_TITLE = 10.0
SIZE_SUBTITLE = 7.5
SIZE_HEAD = 7.5
SIZE_LABEL = 7.0
SIZE_STATE = 6.5
SIZE_FRAME = 6.5
SIZE_BAND = 7.5
SIZE_COLLAPSED = 7.0
SIZE_LEGEND = 7.0

# Horizontal layout, inches from the left edge.
X_TIME = 1.18  # "frame  time" texts end here (right-aligned)
MONO_EM = 0.602  # DejaVu Sans Mono's advance width, in em
STATE_PAD = 0.09  # between a lifeline and a state written beside it
MIN_WIDTH_IN = 7.0
MAX_WIDTH_IN = 16.0
MIN_SPAN_IN = 4.0  # the narrowest distance between the lifelines
NARROWEST_IN = 4.0  # the narrowest figure layout() places (time column, states, a little room for arrows)

STATE_COLOR = "#17652d"
LIFELINE_COLOR = "#8a8a8a"
MUTED = "#666666"
BAND_LABEL_COLORS = {"handshake": "#1f4e8c", "data": "#555555", "teardown": "#1d6b6b", "reset": "#a31515"}
# Anomalies are drawn heavier than ordinary segments so they stand out even in greyscale.
_HEAVY = frozenset({"retransmission", "out_of_order", "lost", "rst", "zero_window", "dup_ack", "duplicate"})

# CJK-capable families, best first (Simplified Chinese faces before the others).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans",
    "Droid Sans Fallback",
    "Noto Serif CJK SC",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
)


class CjkFontWarning(UserWarning):
    """Chinese labels were asked for but no CJK font is installed; English labels were drawn instead."""


def find_cjk_font() -> str | None:
    """The family name of an installed font that has Chinese glyphs, or None: the zh extra's font when it is
    installed, else the best of matplotlib's fonts (:data:`CJK_FAMILIES`)."""
    from matplotlib import font_manager

    packaged = _register_packaged_cjk_font(font_manager)
    if packaged is not None:  # installed on purpose (the zh extra): the same drawing on every machine
        return packaged
    found = _known_cjk_family(font_manager.fontManager.ttflist)
    if found is None:
        # matplotlib caches its font list, so a font installed after the cache was built is missing from it:
        # look on disk for the usual CJK font files and register them.
        for path in font_manager.findSystemFonts():
            name = os.path.basename(path).lower().replace("-", "").replace("_", "")
            if any(hint in name for hint in _CJK_FILE_HINTS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # unreadable or unsupported font file
                    continue
        found = _known_cjk_family(font_manager.fontManager.ttflist)
    return found


# The optional extra ``tcptrace[zh]`` installs a Python package that ships Noto Sans CJK (a static Regular face,
# SIL Open Font License): Chinese diagrams out of the box, with no system font package. The variable-weight CJK
# fonts on the registry draw at their default instance, Thin, since matplotlib cannot choose a weight axis.
CJK_FONT_PACKAGES = ("cvttf_NotoSansCJK_Regular",)


def packaged_cjk_font() -> str | None:
    """The path of the CJK font file the ``zh`` extra installed, or None (its package is not imported: only
    found, so nothing of it runs)."""
    import importlib.util

    for name in CJK_FONT_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            try:
                files = sorted(os.listdir(folder))
            except OSError:
                continue
            for f in files:
                if f.lower().endswith((".otf", ".ttf")):
                    return os.path.join(folder, f)
    return None


_PACKAGED: dict[str, str | None] = {}  # font file -> its family once registered (None: it could not be)


def _register_packaged_cjk_font(font_manager: Any) -> str | None:
    """Register the zh extra's font with matplotlib (once per process) and return its family name."""
    path = packaged_cjk_font()
    if path is None:
        return None
    if path not in _PACKAGED:
        try:
            font_manager.fontManager.addfont(path)
            _PACKAGED[path] = font_manager.FontProperties(fname=path).get_name()
        except (OSError, RuntimeError, ValueError):  # unreadable or unsupported font file
            _PACKAGED[path] = None
    return _PACKAGED[path]


_CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "notosanssc", "sourcehansans", "wqy", "droidsansfallback",
                   "uming", "ukai")  # fmt: skip


def _known_cjk_family(fonts: Iterable[Any]) -> str | None:
    names = {f.name for f in fonts}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    return next((n for n in sorted(names) if "CJK" in n), None)


def _needs_cjk(ladder: Ladder) -> bool:
    from .messages import LANGUAGES

    return bool(LANGUAGES[ladder.lang]["meta.cjk"])  # the catalogue says which languages need a CJK font


# --- layout (pure) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextSpec:
    x: float  # inches
    y: float  # rows
    text: str
    size: float
    color: str = "#222222"
    ha: str = "left"
    va: str = "center"
    weight: str = "normal"
    style: str = "normal"
    mono: bool = False
    box: str | None = None  # edge colour of a white box behind the text
    gid: str | None = None
    zorder: float = 4.0


@dataclass(frozen=True)
class ArrowSpec:
    x0: float
    y0: float
    x1: float
    y1: float
    color: str
    lw: float
    gid: str
    category: str


@dataclass(frozen=True)
class RectSpec:
    x: float
    y: float
    w: float
    h: float
    face: str
    edge: str = "none"
    lw: float = 0.0
    ls: str = "-"
    gid: str | None = None
    zorder: float = 0.0


@dataclass(frozen=True)
class LineSpec:
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    color: str
    lw: float
    ls: Literal["-", "--", ":", "-."] = "-"
    zorder: float = 1.0
    marker: str | None = None
    gid: str | None = None


@dataclass(frozen=True)
class LegendEntry:
    label: str
    color: str
    lw: float
    category: str


@dataclass(frozen=True)
class LadderLayout:
    """Everything :func:`draw_ladder` draws, in inches across and rows down."""

    width_in: float
    height_in: float
    top: float  # rows (negative: the title, legend and heads sit above the first band)
    bottom: float
    x_client: float
    x_server: float
    texts: tuple[TextSpec, ...]
    arrows: tuple[ArrowSpec, ...]
    rects: tuple[RectSpec, ...]
    lines: tuple[LineSpec, ...]
    legend: tuple[LegendEntry, ...]
    legend_y: float
    legend_ncol: int


def text_width_in(text: str, size: float) -> float:
    """A generous estimate of a text's width in inches (DejaVu Sans averages ~0.6 em; CJK glyphs are 1 em)."""
    ems = sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62 for ch in text)
    return ems * size / 72.0


def _fit(text: str, width_in: float, size: float, max_lines: int = 2, min_size: float = 5.5) -> tuple[str, float]:
    """Wrap ``text`` into at most ``max_lines`` lines of ``width_in``, shrinking the font (down to ``min_size``)
    when it does not fit at ``size``. Returns the wrapped text and the size to draw it at."""
    while True:
        wrapped = _wrap(text, width_in, size, max_lines + 1)
        if wrapped.count("\n") < max_lines or size <= min_size:
            return _wrap(text, width_in, size, max_lines), size
        size -= 0.5


def _wrap(text: str, width_in: float, size: float, max_lines: int = 2) -> str:
    """Break ``text`` so each line fits ``width_in``: at spaces, or between any two characters in CJK text
    (which has no spaces). At most ``max_lines``; the last line takes the rest."""
    cjk = any(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    tokens = list(text) if cjk else text.split(" ")
    sep = "" if cjk else " "
    lines: list[str] = []
    current = ""
    for tok in tokens:
        trial = f"{current}{sep}{tok}" if current else tok
        if current and text_width_in(trial, size) > width_in:
            lines.append(current)
            current = tok
        else:
            current = trial
    lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], sep.join(lines[max_lines - 1 :])]
    return "\n".join(lines)


def layout(ladder: Ladder, *, width: float | None = None) -> LadderLayout:
    """Place everything: pure arithmetic on the ladder, no matplotlib.

    The figure is ``width`` inches wide (default: wide enough for the longest arrow label, between
    :data:`MIN_WIDTH_IN` and :data:`MAX_WIDTH_IN`) and :data:`ROW_IN` inches per row tall.
    """
    t = TEXTS[ladder.lang]
    client_states = [m.state for m in ladder.states if m.side == "client"]
    server_states = [m.state for m in ladder.states if m.side == "server"]
    left_state_w = max([text_width_in(s, SIZE_STATE) for s in client_states] + [0.4])
    right_state_w = max([text_width_in(s, SIZE_STATE) for s in server_states] + [0.4])
    x_client = X_TIME + 0.18 + left_state_w + STATE_PAD
    right_margin = STATE_PAD + right_state_w + 0.15
    labels = [_arrow_text(a.label, a.note) for a in ladder.arrows]
    label_w = max([text_width_in(s, SIZE_LABEL) for s in labels] + [0.0])
    if width is None:
        span = max(MIN_SPAN_IN, label_w + 0.7)
        width = min(MAX_WIDTH_IN, max(MIN_WIDTH_IN, x_client + span + right_margin))
    if width < NARROWEST_IN:
        raise ValueError(f"width {width} in is too narrow for a ladder; use at least {NARROWEST_IN:g} inches")
    x_server = width - right_margin
    mid = (x_client + x_server) / 2
    span = x_server - x_client

    texts: list[TextSpec] = []
    arrows: list[ArrowSpec] = []
    rects: list[RectSpec] = []
    lines: list[LineSpec] = []

    frames = [a.frame for a in ladder.arrows] + [f for c in ladder.collapsed for f in c.frames]
    fw = max([len(f"{f:,}") for f in frames] + [1])  # width of the frame column, in characters

    # Top matter, from the heads upwards: heads, legend, subtitle, title.
    head_y = -1.55
    categories = ladder.categories()
    ncol = max(1, min(len(categories), max(1, int(width // 1.9))))
    legend_rows = math.ceil(len(categories) / ncol) if categories else 0
    legend_h = legend_rows * 0.85
    legend_y = head_y - 1.05 - legend_h / 2 - 0.15
    subtitle_y = legend_y - legend_h / 2 - 0.55
    title_y = subtitle_y - 0.85
    top = title_y - 0.8
    bottom = ladder.height + 0.7
    texts.append(TextSpec(width / 2, title_y, ladder.title, SIZE_TITLE, ha="center", weight="bold"))
    texts.append(TextSpec(width / 2, subtitle_y, ladder.subtitle, SIZE_SUBTITLE, color=MUTED, ha="center"))
    role = (t["client"], t["server"])
    for x, endpoint, r, gid in ((x_client, ladder.client_endpoint, role[0], "head-client"),
                                (x_server, ladder.server_endpoint, role[1], "head-server")):  # fmt: skip
        texts.append(TextSpec(x, head_y, f"{endpoint}\n{r}", SIZE_HEAD, ha="center", weight="bold", box="#555555",
                              gid=gid))  # fmt: skip
    frame_right = X_TIME - (2 + 8) * MONO_EM * SIZE_FRAME / 72  # where the frame numbers end in "  3  0.000000"
    texts.append(TextSpec(frame_right, head_y, t["frame"], SIZE_FRAME, color=MUTED, ha="right", weight="bold"))
    texts.append(TextSpec(X_TIME, head_y, t["time"], SIZE_FRAME, color=MUTED, ha="right", weight="bold"))

    # Bands: shaded across the whole width, named in their header row.
    for b in ladder.bands:
        rects.append(
            RectSpec(0.0, b.y0, width, b.y1 - b.y0, BAND_COLORS.get(b.phase, "#ffffff"), gid=f"band-{b.phase}")
        )
        lines.append(LineSpec((0.0, width), (b.y0, b.y0), "#c8c8c8", 0.6, zorder=0.5))
        texts.append(TextSpec(0.08, b.y0 + 0.5, b.label, SIZE_BAND, color=BAND_LABEL_COLORS.get(b.phase, "#333333"),
                              weight="bold", gid=f"band-label-{b.phase}"))  # fmt: skip

    # Lifelines.
    life_top, life_bottom = head_y + 0.65, ladder.height + 0.4
    for x, gid in ((x_client, "lifeline-client"), (x_server, "lifeline-server")):
        lines.append(LineSpec((x, x), (life_top, life_bottom), LIFELINE_COLOR, 1.3, zorder=1.0, gid=gid))

    # Arrows with their labels, frame numbers and times.
    for a, text in zip(ladder.arrows, labels, strict=True):
        x0, x1 = (x_client, x_server) if a.from_client else (x_server, x_client)
        color = CATEGORY_COLORS.get(a.category, "#333333")
        lw = 1.5 if a.category in _HEAVY else 1.0
        arrows.append(ArrowSpec(x0, a.y, x1, a.y + ARROW_DROP, color, lw, f"arrow-{a.frame}", a.category))
        text_w = text_width_in(text, SIZE_LABEL)
        label_x = mid if text_w < span - 0.3 else x_client + 0.15
        # The label sits just above the highest point of the sloping line beneath it, so long labels clear it.
        under = min(1.0, text_w / span) if label_x == mid else 1.0
        label_y = a.y + ARROW_DROP / 2 - ARROW_DROP * under / 2 - 0.06
        texts.append(TextSpec(label_x, label_y, text, SIZE_LABEL,
                              color=color if a.category != "normal" else "#222222",
                              ha="center" if label_x == mid else "left", va="bottom",
                              weight="bold" if a.note else "normal", gid=f"label-{a.frame}"))  # fmt: skip
        ym = a.y + ARROW_DROP / 2
        # Frame and time as one monospaced text: one text fewer per arrow (text dominates the drawing time).
        texts.append(TextSpec(X_TIME, ym, f"{a.frame:>{fw},}  {a.t:.6f}", SIZE_FRAME, color=MUTED, ha="right",
                              mono=True, gid=f"frame-{a.frame}"))  # fmt: skip

    # States, beside their lifeline where they change (the initial ones under the heads).
    for m in ladder.states:
        if m.side == "client":
            texts.append(TextSpec(x_client - STATE_PAD, m.y, m.state, SIZE_STATE, color=STATE_COLOR, ha="right",
                                  box="none", gid=f"state-client-{m.frame}"))  # fmt: skip
            x = x_client
        else:
            texts.append(TextSpec(x_server + STATE_PAD, m.y, m.state, SIZE_STATE, color=STATE_COLOR, ha="left",
                                  box="none", gid=f"state-server-{m.frame}"))  # fmt: skip
            x = x_server
        if m.y != INITIAL_STATE_Y:
            lines.append(LineSpec((x,), (m.y,), STATE_COLOR, 0.0, zorder=3.0, marker="o"))

    # Collapsed runs: one dashed box between the lifelines, saying what the run carried.
    box_w = span - 0.3
    for c in ladder.collapsed:
        rects.append(RectSpec(x_client + 0.15, c.y, box_w, c.height, "#fbfbf3", edge="#9a9a7a", lw=0.8, ls="--",
                              gid=f"collapsed-{c.frames[0]}-{c.frames[1]}", zorder=2.0))  # fmt: skip
        wrapped, size = _fit(c.text, box_w - 0.2, SIZE_COLLAPSED)
        texts.append(TextSpec(mid, c.y + c.height / 2, wrapped, size, color="#44442a", ha="center",
                              style="italic"))  # fmt: skip
        span_text = f"{c.frames[0]:>{fw},}\N{EN DASH} {c.t0:.6f}\n{c.frames[1]:>{fw},}  {c.t1:.6f}"
        texts.append(TextSpec(X_TIME, c.y + c.height / 2, span_text, SIZE_FRAME, color=MUTED, ha="right", mono=True,
                              gid=f"frames-{c.frames[0]}-{c.frames[1]}"))  # fmt: skip

    # Pauses: their real duration, and a break on each lifeline where the time axis is compressed.
    for g in ladder.gaps:
        for x in (x_client, x_server) if g.broken else ():
            lines.append(LineSpec((x - 0.07, x + 0.07), (g.y - 0.05, g.y - 0.25), MUTED, 0.8, zorder=3.0))
            lines.append(LineSpec((x - 0.07, x + 0.07), (g.y + 0.25, g.y + 0.05), MUTED, 0.8, zorder=3.0))
        texts.append(TextSpec(mid, g.y, f"⋯ {g.text} ⋯", SIZE_LABEL, color=MUTED, ha="center", style="italic"))

    legend = tuple(LegendEntry(t["cat." + c], CATEGORY_COLORS[c], 1.5 if c in _HEAVY else 1.0, c) for c in categories)
    return LadderLayout(width, (bottom - top) * ROW_IN, top, bottom, x_client, x_server, tuple(texts), tuple(arrows),
                        tuple(rects), tuple(lines), legend, legend_y, ncol)  # fmt: skip


def _arrow_text(label: str, note: str) -> str:
    return f"{label}   {note}" if note else label


# --- drawing (thin) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fonts:
    """Font families for the texts: DejaVu Sans first (Latin, with bold), then a CJK family for Chinese."""

    cjk: str | None = None
    cjk_bold: bool = False

    def family_and_weight(self, text: str, weight: str) -> tuple[list[str], str]:
        if self.cjk is None or text.isascii():
            return ["DejaVu Sans"], weight
        # Asking for a bold face the CJK family lacks makes matplotlib log a complaint per text: stay regular.
        return ["DejaVu Sans", self.cjk], weight if self.cjk_bold else "normal"


def _usable(ladder: Ladder) -> tuple[Ladder, _Fonts]:
    """The ladder to draw and its fonts: Chinese with a CJK font, else English with a warning."""
    if not _needs_cjk(ladder):
        return ladder, _Fonts()
    font = find_cjk_font()
    if font is None:
        warnings.warn(
            CjkFontWarning(
                f"no CJK font found for lang={ladder.lang!r} (looked for {', '.join(CJK_FAMILIES[:5])} ...); "
                "drawing English labels instead. Install one: pip install 'tcptrace[zh]' (or a system font, e.g. "
                "`apt install fonts-noto-cjk`)."
            ),
            stacklevel=3,
        )
        return ladder.localized("en"), _Fonts()
    from matplotlib import font_manager

    bold = any(f.name == font and _is_bold(f.weight) for f in font_manager.fontManager.ttflist)
    return ladder, _Fonts(font, bold)


def _is_bold(weight: object) -> bool:
    if isinstance(weight, (int, float)):
        return weight >= 600
    return str(weight).lower() in ("bold", "heavy", "black", "extra bold", "demibold", "semibold")


def _new_axes(geo: LadderLayout) -> Axes:
    """A white figure of the layout's size on an Agg canvas (no pyplot), with one Axes filling it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(geo.width_in, geo.height_in), facecolor="white")
    FigureCanvasAgg(fig)
    return fig.add_axes((0.0, 0.0, 1.0, 1.0))


def draw_ladder(ladder: Ladder, ax: Axes | None = None, *, width: float | None = None) -> Axes:
    """Draw the ladder on ``ax`` (a new figure of the right size when None) and return the Axes.

    Each arrow is a ``FancyArrowPatch`` with gid ``arrow-<frame>``; collapsed runs are rectangles with gid
    ``collapsed-<first>-<last>``; the legend lists the colouring categories present.
    """
    return _draw(ladder, ax, width)[0]


def _draw(ladder: Ladder, ax: Axes | None, width: float | None) -> tuple[Axes, LadderLayout]:
    from matplotlib import transforms
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Rectangle

    ladder, fonts = _usable(ladder)
    geo = layout(ladder, width=width)
    if ax is None:
        ax = _new_axes(geo)
    ax.set_xlim(0.0, geo.width_in)
    ax.set_ylim(geo.bottom, geo.top)  # rows grow downwards
    ax.set_axis_off()

    # The limits are set above, so the artists go in with add_artist: add_patch and plot would also grow the
    # data limits, measuring every arrow's path in display space for nothing (a tenth of the drawing).
    add = ax.add_artist
    for r in geo.rects:
        add(Rectangle((r.x, r.y), r.w, r.h, facecolor=r.face, edgecolor=r.edge, linewidth=r.lw, linestyle=r.ls,
                      zorder=r.zorder, gid=r.gid))  # fmt: skip
    for ln in geo.lines:
        if ln.marker:
            add(Line2D(ln.xs, ln.ys, linestyle="none", marker=ln.marker, markersize=2.6, color=ln.color,
                       zorder=ln.zorder, gid=ln.gid))  # fmt: skip
        else:
            add(Line2D(ln.xs, ln.ys, color=ln.color, linewidth=ln.lw, linestyle=ln.ls, zorder=ln.zorder,
                       solid_capstyle="butt", gid=ln.gid))  # fmt: skip
    for a in geo.arrows:
        add(FancyArrowPatch((a.x0, a.y0), (a.x1, a.y1), arrowstyle="-|>", mutation_scale=8, color=a.color,
                            linewidth=a.lw, shrinkA=0, shrinkB=0.5, zorder=3, gid=a.gid))  # fmt: skip
    for s in geo.texts:
        bbox = None
        if s.box is not None:
            bbox = {"boxstyle": "round,pad=0.25" if s.box != "none" else "square,pad=0.1", "facecolor": "white",
                    "edgecolor": s.box, "linewidth": 0.6 if s.box != "none" else 0.0}  # fmt: skip
        family, weight = fonts.family_and_weight(s.text, s.weight)
        style = s.style if len(family) == 1 else "normal"  # CJK faces have no italic: keep the line upright
        ax.text(s.x, s.y, s.text, fontsize=s.size, color=s.color, ha=s.ha, va=s.va, fontweight=weight,
                fontstyle=style, family=["DejaVu Sans Mono"] if s.mono else family, bbox=bbox,
                zorder=s.zorder, gid=s.gid, linespacing=1.15)  # fmt: skip
    if geo.legend:
        handles = [Line2D([], [], color=e.color, linewidth=e.lw + 0.5, label=e.label, gid=f"legend-{e.category}")
                   for e in geo.legend]  # fmt: skip
        ax.legend(handles=handles, loc="center", bbox_to_anchor=(0.5, geo.legend_y),
                  bbox_transform=transforms.blended_transform_factory(ax.transAxes, ax.transData),
                  ncol=geo.legend_ncol, frameon=False, handlelength=2.2, columnspacing=1.6,
                  prop={"family": fonts.family_and_weight("", "normal")[0] if fonts.cjk is None
                        else ["DejaVu Sans", fonts.cjk], "size": SIZE_LEGEND})  # fmt: skip
    return ax, geo


def _check_png_size(ladder: Ladder, dpi: float, width: float | None) -> None:
    geo = layout(ladder, width=width)
    check_png_size(geo.width_in, geo.height_in, dpi, what="the ladder",
                   advice="collapse ordinary segments, lower the dpi, or write SVG or PDF")  # fmt: skip


def save_ladder(ladder: Ladder, path: str | os.PathLike[str], *, dpi: float = 150, width: float | None = None) -> None:
    """Write the ladder to ``path``; the format comes from the extension: .png, .svg or .pdf.

    ``path`` is replaced only by a complete image (:func:`tcptrace.output.replacing`): a PNG too large to draw
    raises :class:`~tcptrace.errors.ImageTooLarge` and an error writing raises ``OSError``, an existing file
    staying as it was."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(
            f"cannot tell the image format of {os.fspath(path)!r} from its extension {fmt!r}; use .png, .svg or .pdf"
        )
    with replacing(path) as out:
        _write(ladder, out, fmt, dpi, width)


def _write(ladder: Ladder, out: BinaryIO, fmt: str, dpi: float, width: float | None) -> None:
    from matplotlib.figure import Figure

    if fmt == "png":
        _check_png_size(ladder, dpi, width)
    ax, geo = _draw(ladder, None, width)
    fig = ax.figure  # (get_figure(root=True) needs matplotlib 3.10; _draw makes no subfigures)
    assert isinstance(fig, Figure)
    if fmt == "png":
        _write_png(fig, geo, out, dpi)
        return
    # Fixed metadata so the same capture gives the same file (no creation date, no software version), and SVG ids
    # from a fixed salt (matplotlib salts them with a random UUID per file otherwise), as tcptrace.graph does.
    import matplotlib

    meta: dict[str, Any] = {"svg": {"Date": None, "Creator": None},
                                   "pdf": {"CreationDate": None, "Producer": None, "Creator": None}}[fmt]  # fmt: skip
    with matplotlib.rc_context({"svg.hashsalt": "tcptrace"}):
        fig.savefig(out, format=fmt, dpi=dpi, facecolor="white", metadata=meta)


def _write_png(fig: Figure, geo: LadderLayout, out: BinaryIO, dpi: float) -> None:
    """Write a palette PNG: about four times smaller than matplotlib's RGBA PNG, and as exact.

    The palette holds every colour the layout uses, exactly (so a retransmission's orange never merges with a
    neighbour's colour, however few pixels it has), plus shades for the antialiasing, chosen by median cut on a
    reduced copy of the image (fast on very tall ladders). Pillow comes with matplotlib.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgb
    from PIL import Image

    fig.set_dpi(dpi)
    canvas = fig.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()  # type: ignore[no-untyped-call]
    pixels = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    rgb = Image.fromarray(pixels).convert("RGB")  # the ladder has no transparency: white background
    exact = {(255, 255, 255)}
    for colour in _layout_colours(geo):
        exact.add(tuple(round(c * 255) for c in to_rgb(colour)))  # type: ignore[arg-type]
    fixed = sorted(exact)[:PNG_PALETTE]
    factor = max(1, math.ceil(math.sqrt(rgb.width * rgb.height / PNG_SAMPLE_PIXELS)))
    sample = rgb.reduce(factor) if factor > 1 else rgb
    shades = sample.quantize(colors=PNG_PALETTE - len(fixed), method=Image.Quantize.MEDIANCUT)
    raw = (shades.getpalette() or [])[: 3 * (PNG_PALETTE - len(fixed))]
    # Shades within a few levels of an exact colour would steal its pixels (Pillow maps colours through a coarse
    # cache, not to the strictly nearest entry): leave those to the exact colour.
    shade = np.array(raw, dtype=np.int16).reshape(-1, 3)
    apart = np.abs(shade[:, None, :] - np.array(fixed, dtype=np.int16)[None, :, :]).max(axis=2).min(axis=1) > 6
    flat = [v for c in fixed for v in c] + shade[apart].ravel().tolist()
    palette = Image.new("P", (1, 1))
    palette.putpalette(flat + [255] * (768 - len(flat)))
    rgb.quantize(palette=palette, dither=Image.Dither.NONE).save(out, format="PNG", dpi=(round(dpi), round(dpi)))


def _layout_colours(geo: LadderLayout) -> set[str]:
    colours = {t.color for t in geo.texts} | {a.color for a in geo.arrows} | {e.color for e in geo.legend}
    colours |= {r.face for r in geo.rects} | {r.edge for r in geo.rects} | {ln.color for ln in geo.lines}
    colours |= {t.box for t in geo.texts if t.box}
    return {c for c in colours if c.startswith("#")}


def render_png(ladder: Ladder, *, dpi: float = 100, width: float | None = None) -> bytes:
    """The ladder as PNG bytes (what Jupyter shows for a :class:`~tcptrace.ladder.Ladder`)."""
    buf = io.BytesIO()
    _write(ladder, buf, "png", dpi, width)
    return buf.getvalue()


def render_svg(ladder: Ladder, *, width: float | None = None) -> str:
    """The ladder as an SVG document."""
    buf = io.BytesIO()
    _write(ladder, buf, "svg", 72, width)
    return buf.getvalue().decode("utf-8")


__all__ = [
    "CjkFontWarning",
    "LadderLayout",
    "draw_ladder",
    "find_cjk_font",
    "layout",
    "packaged_cjk_font",
    "render_png",
    "render_svg",
    "save_ladder",
]
