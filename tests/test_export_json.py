"""export.dumps_indented is json.dumps(indent=2), byte for byte, on any JSON-like value (hypothesis) and on the
flow documents of every sample capture."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from tcptrace import export
from tcptrace.engine import engine_module, summarize

_IMPLEMENTATIONS = ["python"] + (["c"] if engine_module() is not None else [])


def dumps_indented(value: Any, impl: str = "") -> str:
    if impl == "python":
        return export._dumps_indented_py(value)
    out = export.dumps_indented(value)
    assert out == export._dumps_indented_py(value)  # the C and Python versions agree too
    return out


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.text(alphabet='\x00\n"\\é中\U0001f600')
)
_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5), children, max_size=4)
        | st.dictionaries(st.integers(-3, 3), children, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(_values, st.sampled_from(_IMPLEMENTATIONS))
def test_equals_stdlib(value: Any, impl: str) -> None:
    assert dumps_indented(value, impl) == json.dumps(value, indent=2)


class _Colour(enum.IntEnum):
    RED = 1


def test_subclasses_and_nesting() -> None:
    doc = {"a": [_Colour.RED, {"b": {1: "x", "c": [True, None, 1.5]}}], "d": {}, "e": []}
    assert dumps_indented(doc) == json.dumps(doc, indent=2)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.pcap*")), ids=lambda p: p.name)
def test_flow_documents(path: Any) -> None:
    summaries, stats = summarize(path)
    doc = {"stats": stats.as_dict(), "flows": [s.to_dict() for s in summaries]}
    assert dumps_indented(doc) == json.dumps(doc, indent=2)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), _values, max_size=3), st.lists(_values, max_size=4))
def test_chunks_equal_stdlib(head: dict[str, Any], items: list[Any]) -> None:
    """flows --format json writes the document in pieces, one flow at a time: the same bytes as one dumps."""
    from tcptrace.export import dumps_indented_chunks

    head.pop("flows", None)
    text = "".join(dumps_indented_chunks(head, "flows", iter(items)))
    assert text == json.dumps({**head, "flows": items}, indent=2)


@settings(max_examples=200, deadline=None)
@given(_values, st.integers(0, 4))
def test_depth_indents_every_line_after_the_first(value: Any, depth: int) -> None:
    """dumps_indented(value, depth): what json.dumps(indent=2) writes of value nested depth levels deep (what
    dumps_indented_chunks writes each flow with), by the Python version and by the C one."""
    expected = json.dumps(value, indent=2).replace("\n", "\n" + "  " * depth)
    assert export._dumps_indented_py(value, depth) == expected
    engine = engine_module()
    if engine is not None:
        from json.encoder import encode_basestring_ascii

        assert engine.dumps_indented(value, encode_basestring_ascii, export._fallback_json, depth) == expected
