"""A ladder diagram as values: :class:`Ladder` and its :class:`Arrow`, :class:`StateMark`, :class:`Band`,
:class:`Collapsed` and :class:`Gap`, with the colours and words they are drawn in. :mod:`tcptrace.ladder` builds
them from a stream's segments and writes them as text; :mod:`tcptrace.diagram` draws them. Apart so that what
draws a ladder needs nothing of what builds one: ``tcptrace diagram -o IMAGE`` builds it in a child process and
the command's own process imports only this, the drawing and matplotlib (tcptrace.parallel.beside).
"""

# Chinese catalogue strings use full-width punctuation on purpose (as in messages.py).
# ruff: noqa: RUF003

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .messages import LANGUAGES
from .vocab import FLAGS, LADDER_CATEGORIES, LADDER_COLOURS

ARROW_DROP = 0.4  # rows between an arrow's sender end and its receiver end
COLLAPSED_ROWS = 2.0
INITIAL_STATE_Y = -0.35  # the states before the first segment, just under the participant heads

# Colouring categories, in legend order, and their colours: tcptrace.vocab.LADDER_CATEGORIES.
CATEGORIES: tuple[str, ...] = tuple(c.name for c in LADDER_CATEGORIES)
CATEGORY_COLORS: dict[str, str] = dict(LADDER_COLOURS)
BAND_COLORS: dict[str, str] = {
    "handshake": "#e7effa",
    "data": "#f5f5f5",
    "teardown": "#e6f3f3",
    "reset": "#fbe6e6",
}


def _en_notes() -> dict[str, str]:
    """The English arrow notes: Wireshark's Info-column texts (tcptrace.vocab.FLAGS); a duplicate ACK's also says
    which ACK it repeats and how often, "TCP Dup ACK 12#2" (packet-tcp.c "[TCP Dup ACK %u#%u]")."""
    return {"note." + f.name: f.info + (" {frame}#{number}" if f.name == "duplicate_ack" else "") for f in FLAGS}


# The wording is the message catalogue's "ladder.*" entries (tcptrace.messages: one catalogue per language); the
# English arrow notes are Wireshark's Info-column texts from tcptrace.vocab.
TEXTS: dict[str, dict[str, str]] = {
    lang: {k[len("ladder.") :]: v for k, v in cat.items() if k.startswith("ladder.")} for lang, cat in LANGUAGES.items()
}
for _key, _text in _en_notes().items():
    TEXTS["en"].setdefault(_key, _text)


# --- values ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrow:
    """One segment: from the sender's lifeline at ``y`` to the receiver's at ``y + ARROW_DROP``."""

    frame: int
    t: float  # seconds since the stream's first segment
    y: float  # rows from the top of the first band
    from_client: bool
    label: str  # "PSH, ACK  seq=1 ack=1 len=2" (relative numbers, Wireshark's flag order)
    category: str  # one of CATEGORIES: how to colour it
    flags: tuple[str, ...]  # TCP flags, e.g. ("PSH", "ACK")
    analysis: tuple[str, ...] = ()  # Wireshark tcp.analysis names, e.g. ("retransmission",)
    note: str = ""  # "[TCP Retransmission]": the analysis in the words of Wireshark's Info column
    dup_ack: tuple[int, int] | None = None  # (frame, number) of a duplicate ACK: "Dup ACK 35#2"
    duplicate_of: int = 0  # frame this is a hardware duplicate of

    @property
    def side(self) -> str:
        return "client" if self.from_client else "server"


@dataclass(frozen=True)
class StateMark:
    """An endpoint's state changes at ``y`` (after ``frame``; 0 for the state before the first segment)."""

    y: float
    side: Literal["client", "server"]
    state: str
    frame: int


@dataclass(frozen=True)
class Band:
    """A phase of the connection, from ``y0`` to ``y1``; its name is drawn in its first row."""

    y0: float
    y1: float
    phase: str  # handshake, data, teardown, reset
    label: str


@dataclass(frozen=True)
class Collapsed:
    """A run of ordinary segments drawn as one block from ``y`` to ``y + height``."""

    y: float
    frames: tuple[int, int]  # first and last frame of the run
    text: str  # "frames 12–1,480: the server sends 2.0 MB in 1,402 segments; the client answers with 701 ACKs"
    segments: int
    t0: float
    t1: float
    data_bytes: tuple[int, int] = (0, 0)  # client→server, server→client
    data_segments: tuple[int, int] = (0, 0)
    acks: tuple[int, int] = (0, 0)  # pure ACKs (no payload) by each side
    height: float = COLLAPSED_ROWS
    flags: tuple[tuple[str, int], ...] = ()  # analysis flags inside the block (flows over the arrow budget)


@dataclass(frozen=True)
class Gap:
    """A pause worth noting under ``time`` spacing: ``seconds`` of idle drawn as ``rows`` rows centred on ``y``.
    ``broken`` when the pause was longer than :data:`tcptrace.ladder.MAX_GAP_ROWS` could show (the time axis is
    broken there)."""

    y: float
    seconds: float
    rows: float
    text: str
    broken: bool = False


@dataclass(frozen=True)
class Ladder:
    """The ladder diagram of one TCP stream, as data. ``str()`` is the ASCII rendering; in Jupyter it shows
    as a PNG."""

    stream: int
    client: str  # "10.0.0.1:40000 (client)"
    server: str
    client_endpoint: str  # "10.0.0.1:40000"
    server_endpoint: str
    arrows: tuple[Arrow, ...]
    states: tuple[StateMark, ...]
    bands: tuple[Band, ...]
    collapsed: tuple[Collapsed, ...]
    gaps: tuple[Gap, ...]
    title: str
    subtitle: str
    lang: str
    spacing: str
    height: float  # rows from y=0 to the end of the last band
    segments: int  # segments in the stream (shown or collapsed)
    duration_s: float

    def __str__(self) -> str:
        from .ladder import render_ascii

        return render_ascii(self)

    def _repr_png_(self) -> bytes:
        from .diagram import render_png

        return render_png(self)

    def localized(self, lang: str) -> Ladder:
        """The same ladder with its words in ``lang`` (numbers, flags and state names never change)."""
        from .ladder import _localize

        return _localize(self, lang)

    def categories(self) -> list[str]:
        """The colouring categories present, in legend order."""
        present = {a.category for a in self.arrows}
        return [c for c in CATEGORIES if c in present]


__all__ = [
    "ARROW_DROP",
    "BAND_COLORS",
    "CATEGORIES",
    "CATEGORY_COLORS",
    "COLLAPSED_ROWS",
    "INITIAL_STATE_Y",
    "TEXTS",
    "Arrow",
    "Band",
    "Collapsed",
    "Gap",
    "Ladder",
    "StateMark",
]
