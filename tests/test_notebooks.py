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
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors
    # Figures are SVG (crisp at any zoom); no PNG, no warning (a missing CJK glyph, a font not found) on stderr.
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert "image/png" not in kinds
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr
    assert "Glyph" not in stderr
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    if "narrative(" in source or "explain(" in source:  # narratives display as HTML, not as print()ed text
        assert "print(flow.narrative" not in source
        assert any('class="tcpflow"' in o.get("data", {}).get("text/html", "") for o in outputs)


def test_the_chinese_notebook_draws_with_the_zh_extra() -> None:
    from tcptrace.diagram import find_cjk_font, packaged_cjk_font

    if packaged_cjk_font() is None:
        pytest.skip("the zh extra is not installed (pip install 'tcptrace[zh]')")
    nb = nbformat.read(ROOT / "notebooks" / "04_handshake_zh.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT / "notebooks")}})  # fmt: skip
    client.execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"{find_cjk_font()} | NotoSansCJK" in printed
    svgs = [o["data"]["image/svg+xml"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if "image/svg+xml" in o.get("data", {})]  # fmt: skip
    assert len(svgs) == 1
