"""Writing what tcptrace produces without harm: files replaced whole, names and messages as safe text.

Theory of operation. :func:`replacing` writes an output file the way editors and package managers do: into a
new temporary file beside it, flushed to disk, then renamed over the old one (``os.replace``, atomic on POSIX),
so a failure at any point (a full disk, an image too large to draw, an interrupt) leaves an existing file as
it was and no temporary file behind. What is not a regular file (``/dev/stdout``, a FIFO) is written in place.

A capture's file name comes from the user's shell and can hold anything: terminal escape sequences (an OSC 52
sequence writes the reader's clipboard), bytes that are not UTF-8 (Python carries them as lone surrogates,
PEP 383, which no UTF-8 encoder accepts). :func:`path_text` gives a name as text any encoder accepts;
:func:`printable` also escapes control and other invisible characters, the way ``repr`` does, for lines meant
for a terminal. :func:`check_png_size` refuses a PNG too large to draw before any drawing starts. This module
imports only tcptrace.errors, so every module may use it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from .errors import ImageTooLarge

PNG_MAX_SIDE = 65_535  # Agg cannot rasterise a side longer than 2**16 pixels
# Agg holds 4 bytes a pixel while drawing, and the PNG writers copy the image once or twice more: about 640 MB
# at this size, the largest a ladder at its widest default (16 in at 150 dpi, 65,535 pixels tall) reaches.
PNG_MAX_AREA = 160_000_000


def path_text(name: str | os.PathLike[str]) -> str:
    """A file name as text without lone surrogates: bytes that are not UTF-8 become ``\\xNN``.

    >>> path_text(os.fsdecode(b"caf\\xe9.pcap"))
    'caf\\\\xe9.pcap'
    >>> path_text("café.pcap")
    'café.pcap'
    """
    text = os.fspath(name)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text


def _escape(ch: str) -> str:
    n = ord(ch)
    if ch in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch]
    if 0xDC80 <= n <= 0xDCFF:  # a byte that was not UTF-8, carried by surrogateescape (PEP 383): that byte
        return f"\\x{n - 0xDC00:02x}"
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on or not show escaped as ``repr`` escapes it:
    control characters (ESC, BEL, newlines), format characters (bidirectional overrides) and lone surrogates
    (those standing for bytes of a file name that are not UTF-8 as ``\\xNN``, like :func:`path_text`).

    >>> printable("a\\x1b]52;c;aGk=\\x07b.pcap")
    'a\\\\x1b]52;c;aGk=\\\\x07b.pcap'
    >>> printable("stream 0 (10.0.0.1:40000 → 10.0.0.2:80)")
    'stream 0 (10.0.0.1:40000 → 10.0.0.2:80)'
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def display_path(name: str | os.PathLike[str]) -> str:
    """A file name for a line on a terminal: :func:`printable`, bytes that are not UTF-8 as ``\\xNN``."""
    return printable(os.fspath(name))


def short_name(name: str | os.PathLike[str]) -> str:
    """A capture's file name without its directory, for a title; several files read as one (their names joined by
    ``, ``: tcptrace.sources.CaptureSet) as the first's and how many more.

    >>> short_name("sample_pcaps/echo_ipv4.pcap, sample_pcaps/port_reuse.pcap")
    'echo_ipv4.pcap and 1 more'
    """
    text = os.fspath(name)
    parts = text.split(", ")
    if len(parts) > 1 and all(os.path.exists(p) for p in parts):  # not one file with ", " in its name
        return f"{os.path.basename(parts[0])} and {len(parts) - 1} more"
    return os.path.basename(text)


def load_matplotlib() -> None:
    """Import what ``diagram`` and ``graph`` draw with (matplotlib's Figure with its axes and artists, the Agg
    canvas, the font list): the CLI does it in a process beside the capture's pass (tcptrace.parallel.beside).

    For the CLI's process only: while it imports them, matplotlib's artist classes do not build their ``set()``
    signature and docstring from every property's documentation (``Artist._update_set_signature_and_docstring``,
    a quarter of the import: 0.1 s, benchmarks/results-2026-11-27b.txt), which no command reads. ``set()`` takes
    every property all the same (it calls ``Artist.set``) and the drawing is the same, byte for byte
    (tests/test_parallel.py). The method is put back after the import, so artists defined later get theirs. Not
    done when matplotlib's figure module is already imported, nor where the method is not there (another
    matplotlib): then this is a plain import."""
    import sys

    if "matplotlib.figure" in sys.modules:
        import matplotlib.backends.backend_agg

        return
    import matplotlib.artist

    artist = matplotlib.artist.Artist
    name = "_update_set_signature_and_docstring"  # (private: reached by name, so another matplotlib is no error)
    update = artist.__dict__.get(name)
    if isinstance(update, classmethod):
        setattr(artist, name, classmethod(lambda cls: None))
    try:
        import matplotlib.backends.backend_agg
        import matplotlib.figure
    finally:
        if isinstance(update, classmethod):
            setattr(artist, name, update)


def check_png_size(width_in: float, height_in: float, dpi: float, *, what: str, advice: str) -> None:
    """Raise :class:`~tcptrace.errors.ImageTooLarge` unless a ``width_in`` by ``height_in`` inch figure at ``dpi``
    fits a PNG (:data:`PNG_MAX_SIDE` pixels a side, :data:`PNG_MAX_AREA` in all). ``what`` names the image
    ("the ladder"), ``advice`` says what to do instead.

    >>> check_png_size(10, 6, 150, what="the graph", advice="lower the dpi")
    >>> check_png_size(10, 6, 100_000, what="the graph", advice="lower the dpi")
    Traceback (most recent call last):
    tcptrace.errors.ImageTooLarge: the graph is 10 by 6 inches: 1,000,000 pixels across at 100000 dpi, more than ...
    >>> check_png_size(100, 60, 1200, what="the graph", advice="lower the dpi")
    Traceback (most recent call last):
    tcptrace.errors.ImageTooLarge: the graph is 100 by 60 inches: 120,000 pixels across at 1200 dpi, more than ...
    """
    w, h = width_in * dpi, height_in * dpi
    size = f"{what} is {width_in:,.4g} by {height_in:,.4g} inches"
    if max(w, h) > PNG_MAX_SIDE:
        side = "across" if w >= h else "tall"
        raise ImageTooLarge(
            f"{size}: {max(w, h):,.0f} pixels {side} at {dpi:g} dpi, more than a PNG can hold ({PNG_MAX_SIDE:,} a "
            f"side); {advice}"
        )
    if w * h > PNG_MAX_AREA:
        raise ImageTooLarge(
            f"{size}: {w:,.0f} by {h:,.0f} pixels at {dpi:g} dpi, more than tcptrace draws into a PNG "
            f"({PNG_MAX_AREA:,} pixels); {advice}"
        )


def _create_beside(target: str) -> tuple[int, str]:
    """A new, empty file in ``target``'s directory: its descriptor and name. Created with mode 0o666 less the
    umask, as ``open(target, "w")`` would create ``target``."""
    directory, base = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{os.urandom(4).hex()}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


class CannotCreate(OSError):
    """The temporary file beside the output could not be created (the directory is missing or not writable)."""


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``path`` for writing bytes so that it is replaced only once the ``with`` block has finished without
    an error (see the module docstring).

    Raises :class:`CannotCreate` (an ``OSError``) when the temporary file cannot be created, other ``OSError``
    when writing or renaming fails; an existing file at ``path`` is then untouched.
    """
    # Through a symbolic link to its target (renaming over the link would turn it into a plain file).
    target = os.path.realpath(path)
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        # /dev/stdout, a FIFO, a terminal: nothing to preserve, and no rename can reach them
        with open(path, "wb") as f:
            yield f
        return
    try:
        fd, tmp = _create_beside(target)
    except OSError as exc:
        where = os.path.dirname(target) or "."
        raise CannotCreate(exc.errno, f"cannot create a file in {where}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))  # the replaced file's permissions, as an editor keeps them
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def give_to_sudo_user(path: str | os.PathLike[str]) -> None:
    """Under sudo, make ``path`` (a file we wrote as root: a live or lab capture's ``--write``) belong to the user
    who asked for it, so they can move or delete it without sudo. Nothing otherwise; a failure is ignored."""
    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if os.geteuid() == 0 and uid and gid and uid.isdigit() and gid.isdigit():
        with contextlib.suppress(OSError):
            os.chown(path, int(uid), int(gid))


__all__ = [
    "PNG_MAX_AREA",
    "PNG_MAX_SIDE",
    "CannotCreate",
    "check_png_size",
    "display_path",
    "give_to_sudo_user",
    "path_text",
    "printable",
    "replacing",
]
