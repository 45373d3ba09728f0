"""Hostile and damaged input (issue #13): a bounded, deterministic share of the fuzzing that
benchmarks/fuzz.py runs for hours.

Each sample capture and each small corpus capture gets a fixed number of mutants (tests/fuzzing.py: damaged
record and block lengths, interface options, link types, IP and TCP header fields, TCP options of length
0/1/255, tunnels many levels deep, bit flips, truncation). Every mutant is read in-process by both engines
(TCPTRACE_ENGINE=python and =c): only a TcptraceError may escape, and both engines must give the same flows and
accounting, or the same error. Every RENDER_EVERY-th mutant also goes through every renderer on the Python
results (explain as text, markdown, JSON, HTML; the ladder as ASCII, Mermaid, PlantUML; packets as JSON lines).
A few go through the command line in subprocesses: exit status 0, 1 or 2, no traceback, no signal.

Mutant ``seed#n`` is the same bytes on every machine (random.Random seeded with that name), so a failure here is
reproduced with ``python benchmarks/fuzz.py --replay 'seed#n'``. Inputs that fail because of library bugs not
fixed yet are listed in KNOWN_FAILING with the bug and its issue; they are left out of the main tests, and
test_known_failing_still_fail checks that each still fails: when a fix makes one pass, delete its entry.
The names depend on tests/fuzzing.py: changing a mutation renumbers the mutants, so re-derive the list then.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fuzzing as fz
import pytest
from conftest import CORPUS, OUTSIDE, SAMPLES

SAMPLE_MUTANTS = 20  # per sample capture (28 samples)
CORPUS_MUTANTS = 10  # per corpus capture of at most CORPUS_MAX_BYTES (about 100 files)
CORPUS_MAX_BYTES = 64 * 1024
RENDER_EVERY = 4  # the renderers run on mutants 0, 4, 8, ... of each seed
CLI_MUTANTS = (  # through `python -m tcptrace flows` and `explain` in subprocesses
    "echo_ipv4.pcap#100",
    "echo_ipv6.pcapng#100",
    "lossy_bulk.pcap#101",
    "vlan.pcap#102",
    "dialogue.pcap#103",
    "echo_sll2.pcap#104",
)

# Mutant name -> the library bug it shows (reproduce: python benchmarks/fuzz.py --replay NAME), left out of the
# main tests until fixed. Empty: the 48 entries found first (nested tunnels, an if_tsoffset past its block,
# timestamps ~1e19 ns apart, all issue #13) pass since the fixes; a new find goes here with its bug described.
KNOWN_FAILING: dict[str, str] = {}

SEEDS = fz.sample_seeds(SAMPLES) + fz.corpus_seeds(CORPUS, CORPUS_MAX_BYTES)
SEEDS_BY_NAME = {s.name: s for s in SEEDS}


def _engine_built() -> bool:
    if os.environ.get("TCPTRACE_REQUIRE_ENGINE") == "1":  # .ci/run: the engine must have been built
        return True
    try:
        from tcptrace import _engine  # noqa: F401
    except ImportError:
        return False
    return True


C_ENGINE = _engine_built()


def _mutant(name: str) -> fz.Mutant:
    seed, number = name.rsplit("#", 1)
    return fz.mutant(SEEDS_BY_NAME[seed], int(number))


def _check(m: fz.Mutant, path: Path, render: bool) -> list[str]:
    """The failures of one mutant, each as a paragraph saying which mutant, how it was made and what went wrong."""
    path.write_bytes(m.data)
    verdicts = [fz.judge_engines(str(path), c_engine=C_ENGINE)]
    if render:
        verdicts.append(fz.judge_renderers(str(path)))
        if C_ENGINE:
            verdicts.append(fz.judge_ladders(str(path)))
    return [f"{m.name} {list(m.ops)}\n  {v.signature}\n{_short(v.detail)}" for v in verdicts if v.failed]


def _short(detail: str) -> str:
    lines = detail.splitlines()
    return "\n".join("    " + line for line in (lines if len(lines) <= 12 else [*lines[:2], "    ...", *lines[-9:]]))


@pytest.mark.parametrize("seed", [s.name for s in SEEDS])
def test_mutants(seed: str, tmp_path: Path) -> None:
    s = SEEDS_BY_NAME[seed]
    count = CORPUS_MUTANTS if "/" in seed else SAMPLE_MUTANTS
    failures: list[str] = []
    for n in range(count):
        m = fz.mutant(s, n)
        if m.name in KNOWN_FAILING:
            continue
        failures += _check(m, tmp_path / f"m{n}.pcap", render=n % RENDER_EVERY == 0)
    assert not failures, "\n\n".join(failures)


def test_known_failing_still_fail(tmp_path: Path) -> None:
    """Each listed mutant still shows its bug: one that passes now was fixed and must leave KNOWN_FAILING (and so
    rejoin the main tests). Mutants of corpus seeds are checked when ../shared/corpus is beside the repository."""
    fixed = []
    for name in KNOWN_FAILING:
        if name.rsplit("#", 1)[0] in SEEDS_BY_NAME and not _check(_mutant(name), tmp_path / "m.pcap", render=True):
            fixed.append(name)
    assert not fixed, f"fixed, take them out of KNOWN_FAILING: {fixed}"


def test_mutants_are_deterministic() -> None:
    s = SEEDS_BY_NAME["echo_ipv4.pcap"]
    assert [fz.mutant(s, n).data for n in range(20)] == [fz.mutant(s, n).data for n in range(20)]
    assert len({fz.mutant(s, n).data for n in range(20)}) > 15


def test_layout_finds_the_fields() -> None:
    """The mutations aim at fields, so the walk must find every record, block and TCP header of the samples."""
    from tcptrace.engine import summarize

    for name in ("echo_ipv4.pcap", "vlan.pcap", "echo_sll2.pcap", "echo_ipv6.pcapng"):
        data = SEEDS_BY_NAME[name].data
        lay = fz.layout(data)
        _, stats = summarize(SAMPLES / name)
        assert len(lay.frames) == stats.frames, name
        assert len([p for p in fz.packets(data, lay) if p.tcp >= 0]) == stats.tcp_segments, name
        if lay.kind == "pcapng":
            assert lay.idbs
            assert sum(b.length for b in lay.blocks) == len(data)


def _run_cli(args: list[str]) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "TCPTRACE_ENGINE"}  # the default engine, as users run it
    return subprocess.Popen(
        [sys.executable, "-m", "tcptrace", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=OUTSIDE,
    )


@pytest.mark.parametrize("name", CLI_MUTANTS)
def test_cli_on_mutants(name: str, tmp_path: Path) -> None:
    m = _mutant(name)
    path = tmp_path / "m.pcap"
    path.write_bytes(m.data)
    procs = {cmd: _run_cli([cmd, str(path)]) for cmd in ("flows", "explain")}  # both at once: two cores
    for cmd, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        stderr = err.decode(errors="replace")
        assert proc.returncode >= 0, f"{cmd} {m.name} {list(m.ops)}: killed by signal {-proc.returncode}"
        assert proc.returncode in (0, 1, 2), f"{cmd} {m.name} {list(m.ops)}: exit {proc.returncode}\n{stderr}"
        assert "Traceback" not in stderr, f"{cmd} {m.name} {list(m.ops)}:\n{stderr}"
