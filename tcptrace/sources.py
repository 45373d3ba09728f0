"""What to read: many capture files as one capture, and the time range of it to analyse.

Theory of operation. A command names its input with one or more words: files, ``-`` (standard input), directories
and glob patterns. :func:`expand_captures` turns them into a list of files, in a fixed order: each word in turn; a
pattern's matches sorted by name (we expand patterns too, so a quoted ``'ring/*.pcap'`` works as the shell's
would); a directory's capture files found by walking it **recursively**, sorted by path, hidden files and
directories (a leading dot) left out, a file taken when its first bytes are a capture's or a compressed capture's
magic (so ``README``, ``*.txt`` and an index beside the captures are passed over). The same file named twice is
read once. A word that matches nothing is an error (one line), never silently ignored.

Several files are read as one capture merged by time, as ``mergecap`` merges them by default: the k-way merge of
their records by timestamp, a tie going to the file named first (tcptrace.capture.MergedReader). Ring-buffer files
of one capture (consecutive, not overlapping) therefore read as the original capture; files from several vantage
points interleave. Frames are numbered over the merged capture as Wireshark numbers the merged file.

A :class:`TimeRange` (``--start``/``--end``) keeps the frames whose time lies within it, both ends included;
every other frame is counted under ``SkipReason.OUT_OF_TIME_RANGE``. :func:`parse_time` reads one bound:

* ``+10``, ``+10s``, ``+1.5m``, ``+250ms``, ``+2h``: relative to the capture's first frame (units ns, us, ms,
  s, m, h; seconds when none is given);
* ``1714564800`` or ``1714564800.25``: seconds since 1970 (UTC);
* ``2024-05-01T12:00:00Z``, ``2024-05-01 12:00:00.5+02:00``, ``2024-05-01``: ISO 8601, UTC when no offset is
  given (captures carry UTC; the host's time zone is not guessed).

This module imports only tcptrace.errors and the standard library.
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import CaptureError

# First bytes of what a directory walk takes: pcap (both byte orders, micro/nanosecond, Kuznetsov's), pcapng, and
# the compressed containers tcptrace.capture opens (gzip, xz, bzip2, zstd, lz4)
_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x34\xcd\xb2\xa1",
    b"\xa1\xb2\xcd\x34",
    b"\x0a\x0d\x0d\x0a",
    b"\x1f\x8b",
    b"\xfd7zXZ\x00",
    b"BZh",
    b"\x28\xb5\x2f\xfd",
    b"\x04\x22\x4d\x18",
)
_GLOB_CHARS = frozenset("*?[")


def _looks_like_capture(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError:
        return False
    return any(head.startswith(m) for m in _MAGICS)


def _walk(directory: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            if not name.startswith(".") and os.path.isfile(path) and _looks_like_capture(path):
                found.append(path)
    return found


def expand_captures(words: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The capture files ``words`` name (files, ``-``, directories, glob patterns), in reading order (see the
    module docstring). Raises :class:`~tcptrace.errors.CaptureError` (one line) for a word naming nothing: a
    missing file, a pattern without a match, a directory without a capture file.

    >>> expand_captures(["sample_pcaps/echo_ipv6.pcapng", "sample_pcaps/echo_ipv*"])
    ['sample_pcaps/echo_ipv6.pcapng', 'sample_pcaps/echo_ipv4.pcap']
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        key = path if path == "-" else os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)

    for word in words:
        w = os.fspath(word)
        if w == "-":
            add(w)
        elif os.path.isdir(w):
            found = _walk(w)
            if not found:
                raise CaptureError(f"{w}: a directory without capture files (pcap, pcapng or compressed ones)")
            for path in found:
                add(path)
        elif os.path.exists(w) or not _GLOB_CHARS & set(w):
            if not os.path.exists(w):
                raise CaptureError(f"cannot open {w}: No such file or directory")
            add(w)
        else:
            matches = sorted(glob.glob(w, recursive=True))
            if not matches:
                raise CaptureError(f"{w}: no file matches this pattern")
            for m in matches:
                if os.path.isdir(m):
                    for path in _walk(m):
                        add(path)
                else:
                    add(m)
    if out.count("-") and len(out) > 1:
        raise CaptureError("standard input (-) cannot be read together with other captures")
    return out


class CaptureSet(os.PathLike[str]):
    """Several capture files (or one) read as one capture, with an optional :class:`TimeRange`: what every reading
    command and :func:`tcptrace.load` accept besides a path. ``os.fspath()`` of it is the name shown in messages
    and in the ``capture`` field of the JSON documents: the one file's name, or the files' names joined by ``, ``.

    >>> cs = CaptureSet(["sample_pcaps/echo_ipv4.pcap"], TimeRange.parse(start="+0.5s"))
    >>> os.fspath(cs), cs.time_range.start
    ('sample_pcaps/echo_ipv4.pcap', Bound(ns=500000000, relative=True))
    """

    def __init__(self, paths: Sequence[str], time_range: TimeRange | None = None) -> None:
        if not paths:
            raise CaptureError("no capture to read")
        self.paths = list(paths)
        self.time_range = time_range if time_range is not None and not time_range.everything else None

    @classmethod
    def of(cls, words: Iterable[str | os.PathLike[str]], time_range: TimeRange | None = None) -> CaptureSet:
        """The files ``words`` name (:func:`expand_captures`) as a set."""
        return cls(expand_captures(words), time_range)

    def __fspath__(self) -> str:
        return ", ".join(self.paths)

    def __repr__(self) -> str:
        return f"CaptureSet({self.paths!r}, {self.time_range!r})"


def source_of(
    words: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    start: str | None = None,
    end: str | None = None,
) -> str | CaptureSet:
    """What the reader opens for ``words`` (one word or several) and ``--start``/``--end``: the word itself when it
    is one file (or ``-``) and there is no time range, so a single capture reads exactly as before; else a
    :class:`CaptureSet`."""
    seq = [words] if isinstance(words, (str, os.PathLike)) else list(words)
    time_range = TimeRange.parse(start, end)
    if len(seq) == 1 and time_range.everything:
        w = os.fspath(seq[0])
        if w == "-" or (os.path.isfile(w) or (not os.path.exists(w) and not _GLOB_CHARS & set(w))):
            return w
    return CaptureSet.of(seq, time_range)


# --- time ranges ---------------------------------------------------------------------------------------------

_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
             "h": 3_600_000_000_000}  # fmt: skip
_RELATIVE = re.compile(r"\+(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|m|h)?")
_EPOCH = re.compile(r"(\d+)(?:\.(\d*))?")
# ISO 8601 as people write it: a date, optionally a time (T or a space; seconds and a fraction optional, to the
# nanosecond: datetime.fromisoformat stops at microseconds), optionally Z or an offset +HH[:MM]
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*([Zz]|([+-]\d{2}):?(\d{2})?)?"
)
TIME_HELP = (
    "+10s, +1.5m, +250ms (from the capture's first frame; units ns, us, ms, s, m, h), seconds since 1970 "
    "(1714564800.5) or ISO 8601 (2024-05-01T12:00:00Z; UTC when no offset is given)"
)


class TimeRangeError(CaptureError, ValueError):
    """A ``--start`` or ``--end`` that cannot be read."""


# A bound is kept within [-_BOUND_MAX, _BOUND_MAX]: beyond every frame time (vocab.TS_NS_MAX), and a relative one
# added to a frame time still fits 64 bits (the C engine adds them: Engine.time_range)
_BOUND_MAX = 1 << 62


@dataclass(frozen=True)
class Bound:
    """One end of a :class:`TimeRange`: nanoseconds since 1970, or after the capture's first frame."""

    ns: int
    relative: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "ns", max(-_BOUND_MAX, min(self.ns, _BOUND_MAX)))


def _decimal_ns(whole: str, frac: str, unit_ns: int) -> int:
    scale = 10 ** len(frac)
    ns: int = (int(whole or "0") * scale + int(frac or "0")) * unit_ns // scale
    return ns


def parse_time(text: str) -> Bound:
    """One ``--start``/``--end`` value (grammar in the module docstring).

    >>> parse_time("+1.5m"), parse_time("+250ms").ns, parse_time("1714564800.5").ns
    (Bound(ns=90000000000, relative=True), 250000000, 1714564800500000000)
    >>> parse_time("2024-05-01T12:00:00Z").ns == parse_time("1714564800").ns
    True
    """
    t = text.strip()
    m = _RELATIVE.fullmatch(t)
    if m:
        whole, _, frac = m.group(1).partition(".")
        return Bound(_decimal_ns(whole, frac, _UNITS_NS[m.group(2) or "s"]), relative=True)
    m = _EPOCH.fullmatch(t)
    if m and len(m.group(1)) != 8:  # 20240501 is a date (ISO 8601 basic format), not 1970 + 231 days
        return Bound(_decimal_ns(m.group(1), m.group(2) or "", 1_000_000_000))
    m = _ISO.fullmatch(t)
    if not m:
        raise TimeRangeError(f"cannot read the time {text!r}: give {TIME_HELP}")
    year, month, day, hour, minute, second, frac, zone, zh, zm = m.groups()
    try:
        when = _dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                            tzinfo=_dt.timezone.utc)  # fmt: skip
        # local time = UTC + offset: +02:00 is two hours ahead of UTC
        offset = 0 if zone in (None, "Z", "z") else int(zh[1:]) * 3600 + int(zm or 0) * 60
        if offset >= 86_400 or int(zm or 0) >= 60:
            raise ValueError("offset")
        if zh and zh[0] == "-":
            offset = -offset
    except ValueError:
        raise TimeRangeError(f"cannot read the time {text!r}: not a date and time of the calendar") from None
    delta = when - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    seconds = delta.days * 86_400 + delta.seconds - offset
    return Bound(seconds * 1_000_000_000 + _decimal_ns("0", frac or "", 1_000_000_000))


_NS_MIN, _NS_MAX = -(1 << 63), (1 << 63) - 1


@dataclass(frozen=True)
class TimeRange:
    """``--start``/``--end``: the frames at or after ``start`` and at or before ``end`` are read; either may be
    missing. Relative bounds count from the capture's first frame (the first of the merged capture)."""

    start: Bound | None = None
    end: Bound | None = None

    @classmethod
    def parse(cls, start: str | None = None, end: str | None = None) -> TimeRange:
        return cls(None if start is None else parse_time(start), None if end is None else parse_time(end))

    @property
    def everything(self) -> bool:
        return self.start is None and self.end is None

    def bounds(self, first_ns: int) -> tuple[int, int]:
        """The range as [lo, hi] nanoseconds, relative bounds counted from ``first_ns``."""
        lo = _NS_MIN if self.start is None else self.start.ns + (first_ns if self.start.relative else 0)
        hi = _NS_MAX if self.end is None else self.end.ns + (first_ns if self.end.relative else 0)
        return lo, min(hi, _NS_MAX)

    def engine_args(self) -> tuple[int, bool, int, bool]:
        """``Engine.time_range``'s first four arguments."""
        s, e = self.start, self.end
        return (
            _NS_MIN if s is None else s.ns,
            s is not None and s.relative,
            _NS_MAX if e is None else min(e.ns, _NS_MAX),
            e is not None and e.relative,
        )


class Window:
    """A :class:`TimeRange` during one pass: its bounds settled at the pass's first frame (shared by the files of
    a merged capture, whose first frame is the first one read)."""

    __slots__ = ("hi", "lo", "pending", "range")

    def __init__(self, time_range: TimeRange) -> None:
        self.range = time_range
        self.pending = True
        self.lo, self.hi = time_range.bounds(0)

    def settle(self, first_ns: int) -> tuple[int, int]:
        """The bounds, relative ones counted from ``first_ns`` if no frame settled them before."""
        if self.pending:
            self.pending = False
            self.lo, self.hi = self.range.bounds(first_ns)
        return self.lo, self.hi


__all__ = ["Bound", "CaptureSet", "TimeRange", "TimeRangeError", "expand_captures", "parse_time", "source_of"]
