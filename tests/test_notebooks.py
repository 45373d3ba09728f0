"""Every example notebook runs top to bottom in a fresh kernel without errors (nbclient)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

nbformat = pytest.importorskip("nbformat", reason="notebook tooling is in the test extra: pip install '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="notebook tooling is in the test extra: pip install '.[test]'")
pytest.importorskip("ipykernel", reason="notebook tooling is in the test extra: pip install '.[test]'")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # run from a clean slate: the committed outputs must not matter
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})  # fmt: skip
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
