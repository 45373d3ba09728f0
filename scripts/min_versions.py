"""Print a pip constraints file that pins every runtime dependency of tcptrace (the core ones and the optional
extras users install: notebook, zstd, lz4, zh) at the floor pyproject.toml declares (`>=X` becomes `==X`).
`.ci/min-versions` installs the package with it and runs the tests, so a declared floor is one the suite passes
on, not a guess. Test tools (pytest, ruff, mypy ...) are left to resolve normally: they are not what a user installs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]

RUNTIME_EXTRAS = ("notebook", "zstd", "lz4", "zh")
REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][^,;\s]*)\s*(;.*)?$")


def floors(pyproject: Path) -> list[str]:
    if tomllib is None:
        sys.exit("scripts/min_versions.py needs Python 3.11+ (tomllib)")
    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in RUNTIME_EXTRAS:
        reqs += project["optional-dependencies"][extra]
    out: dict[str, str] = {}
    for req in reqs:
        m = REQ.match(req)
        if m is None:
            sys.exit(f"scripts/min_versions.py: {req!r} has no '>=' floor; every runtime dependency needs one")
        name, version, marker = m.group(1), m.group(2), m.group(3) or ""
        out[name.lower()] = f"{name}=={version}{marker}"
    return sorted(out.values())


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    print("\n".join(floors(root / "pyproject.toml")))
