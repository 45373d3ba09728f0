from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/pcapgen.py
CORPUS = ROOT.parent / "shared" / "corpus"
SAMPLES = ROOT / "sample_pcaps"


def c_engine(why: str) -> Any:
    """The built C engine (tcptrace._engine), or the test skipped, saying ``why`` it needs it."""
    from tcptrace.engine import engine_module

    engine = engine_module()
    if engine is None:
        pytest.skip(f"the C engine is not built ({why})")
    return engine


def corpus_captures(min_bytes: int = 0, max_bytes: int = 2_000_000, most: int = 12) -> list[Path]:
    """Up to ``most`` capture files of the shared corpus (../shared/corpus) between the sizes, by path; none when
    the corpus is not there."""
    if not CORPUS.is_dir():
        return []
    found = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap") and p.is_file())
    return [p for p in found if min_bytes < p.stat().st_size < max_bytes][:most]


def corpus_id(path: Path | None) -> str:
    """A corpus capture's test id: its path in the corpus (many are named input.pcap)."""
    return str(path.relative_to(CORPUS)) if path else "no-corpus"


# A working directory outside the checkout, for tests that start `python -m tcptrace` in a subprocess: from the
# checkout, `-m` would import the sources instead of the installed package that `pip install .` built.
OUTSIDE = Path(__file__).resolve().anchor


def pytest_configure(config: pytest.Config) -> None:
    """Stop at once, in one line, when this Python cannot run the tests (a bare `pytest` from a shell whose Python
    has no tcptrace installed gave 25 collection errors); the README's Quick start installs what they need."""
    missing = [name for name in ("tcptrace", "matplotlib", "hypothesis") if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(
            f"{sys.executable} lacks {', '.join(missing)}: install the test extras into it first "
            "(pip install -e '.[test]', the README's Quick start), or run the venv's python -m pytest"
        )
    stale = _stale_install()
    if stale:
        raise pytest.UsageError(stale)


def _stale_install() -> str | None:
    """After `pip install .`, pytest tests the installed copy, not this checkout's sources: a developer who edits
    and re-runs would see stale results. Stop when the imported package's modules differ from the sources beside
    these tests (an sdist's tests and its installed wheel have the same sources, so they pass this check). The
    compiled engine cannot be compared; `TCPTRACE_REQUIRE_ENGINE=1` catches a missing one."""
    spec = importlib.util.find_spec("tcptrace")
    sources = ROOT / "tcptrace"
    if spec is None or spec.origin is None or not (sources / "__init__.py").is_file():
        return None
    installed = Path(spec.origin).resolve().parent
    if installed == sources.resolve():
        return None  # an editable install or the checkout itself
    differ = sorted(
        f.name for f in sources.glob("*.py") if not (installed / f.name).is_file() or
        (installed / f.name).read_bytes() != f.read_bytes()
    )  # fmt: skip
    if not differ:
        return None
    return (
        f"the tcptrace under test ({installed}) is not this checkout's ({', '.join(differ[:3])}"
        f"{' ...' if len(differ) > 3 else ''} differ): pip install . again, or develop with an editable install "
        "(pip install -e '.[test]' 'setuptools>=77' && python setup.py build_ext --inplace; README, Development)"
    )


def engines() -> list[str]:
    """The engines to compare: the Python reference, and the C engine when it is built (asked directly, not through
    TCPTRACE_ENGINE, which a test may have set already). Under TCPTRACE_REQUIRE_ENGINE=1 (.ci/run with a compiler)
    a missing engine is an error, so an "engines agree" test cannot quietly compare Python with itself."""
    import os

    if importlib.util.find_spec("tcptrace._engine") is not None:
        return ["python", "c"]
    if os.environ.get("TCPTRACE_REQUIRE_ENGINE") == "1":
        raise AssertionError("TCPTRACE_REQUIRE_ENGINE=1 but tcptrace._engine is not built")
    return ["python"]
