"""Run the docstring examples of every module of the installed package (they use sample_pcaps/)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
from conftest import ROOT

import tcptrace

MODULES = ["tcptrace"] + [f"tcptrace.{m.name}" for m in pkgutil.iter_modules(tcptrace.__path__) if m.name != "__main__"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_examples_exist() -> None:
    finder = doctest.DocTestFinder()
    count = sum(len(t.examples) for name in MODULES[:3] for t in finder.find(importlib.import_module(name)))
    assert count > 0
