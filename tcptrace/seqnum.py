"""Sequence-number arithmetic modulo 2**32 (RFC 9293 §3.4), and nothing else.

TCP sequence numbers wrap, so ``a < b`` on wire values is wrong near the wrap point. Every comparison of
sequence or acknowledgement numbers in tcptrace goes through these functions, which mirror Wireshark's
``GT_SEQ``/``LT_SEQ``/``LE_SEQ``/``GE_SEQ`` macros: ``a`` is "after" ``b`` when the forward distance from ``b``
to ``a`` is less than 2**31.
"""

from __future__ import annotations

MOD = 1 << 32
MASK = MOD - 1
HALF = 1 << 31


def add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & MASK


def diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` in sequence space, in ``[-2**31, 2**31)``."""
    d = (a - b) & MASK
    return d - MOD if d >= HALF else d


def lt(a: int, b: int) -> bool:
    """``a`` comes before ``b`` (Wireshark ``LT_SEQ``)."""
    return ((a - b) & MASK) >= HALF


def le(a: int, b: int) -> bool:
    """``a`` comes before or equals ``b`` (Wireshark ``LE_SEQ``)."""
    return a == b or ((a - b) & MASK) >= HALF


def gt(a: int, b: int) -> bool:
    """``a`` comes after ``b`` (Wireshark ``GT_SEQ``)."""
    return a != b and ((a - b) & MASK) < HALF


def ge(a: int, b: int) -> bool:
    """``a`` comes after or equals ``b`` (Wireshark ``GE_SEQ``)."""
    return ((a - b) & MASK) < HALF


def relative(raw: int, base: int) -> int:
    """Relative sequence number as Wireshark shows it: ``raw - base`` modulo 2**32 (never negative)."""
    return (raw - base) & MASK
