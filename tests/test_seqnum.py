"""Sequence arithmetic modulo 2**32, including across the wrap point."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcptrace import seqnum

u32 = st.integers(0, 2**32 - 1)
step = st.integers(1, 2**31 - 1)


@given(u32, step)
def test_after_is_after_even_across_wrap(a: int, n: int) -> None:
    b = seqnum.add(a, n)
    assert seqnum.gt(b, a)
    assert seqnum.ge(b, a)
    assert seqnum.lt(a, b)
    assert seqnum.le(a, b)
    assert not seqnum.lt(b, a)
    assert seqnum.diff(b, a) == n
    assert seqnum.diff(a, b) == -n


@given(u32)
def test_equal_is_neither_before_nor_after(a: int) -> None:
    assert not seqnum.lt(a, a)
    assert not seqnum.gt(a, a)
    assert seqnum.le(a, a)
    assert seqnum.ge(a, a)
    assert seqnum.diff(a, a) == 0


@given(u32, u32)
def test_relative_inverts_add(base: int, offset: int) -> None:
    assert seqnum.relative(seqnum.add(base, offset), base) == offset


def test_wrap_examples() -> None:
    assert seqnum.add(0xFFFFFFFF, 1) == 0
    assert seqnum.gt(5, 0xFFFFFFF0)
    assert seqnum.relative(3, 0xFFFFFFFE) == 5
