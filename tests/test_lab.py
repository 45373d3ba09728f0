"""``tcptrace lab`` (issue #17): the table of labs, its facts, the private network and the command group.

The facts each lab's story must show are stated in tcptrace/lab/labs.py from the tutorials and the programs'
own docstrings (who closes first, which states each side passes through, the reset's cause, the SYN back-off,
a zero window, retransmissions). Here they are checked three ways: on the shipped sample captures, which
record.sh made with the same recipes (no root needed); against the wrong captures, to show the facts tell
experiments apart; and, as root, on a capture each lab takes right now in its own network namespaces (skipped
with the reason when this machine cannot: not root, no `ip`, no tcpdump/dumpcap, namespaces not permitted).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tcptrace.cli import main
from tcptrace.lab import BY_NAME, LABS, Fact
from tcptrace.lab.cli import program_listing
from tcptrace.lab.facts import check_facts, syn_times
from tcptrace.lab.runner import PROGRAMS, run_lab

SAMPLES = Path(__file__).resolve().parent.parent / "sample_pcaps"
FACT_KINDS = {"streams", "opened", "closed", "states", "reset", "syn_backoff", "flag", "bytes", "segments",
              "retransmissions"}  # fmt: skip


def _sample(name: str) -> Path:
    return SAMPLES / f"{BY_NAME[name].sample or name}.pcap"


# --- the table ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_every_lab_is_complete(lab: object) -> None:
    from tcptrace.lab.labs import Lab

    assert isinstance(lab, Lab)
    assert set(lab.title) == {"en", "zh"}
    assert lab.facts, "a lab without facts to check proves nothing"
    assert {f.kind for f in lab.facts} <= FACT_KINDS
    for program in lab.programs:  # shipped as package data (pyproject: tcptrace.lab programs/*.py)
        assert (PROGRAMS / program).is_file(), program
    assert lab.capture_on in ("client", "server")
    assert all(rule.side in ("client", "server") for rule in lab.rules)


def test_the_labs_the_issue_asks_for() -> None:
    assert {"echo", "dialogue", "dialogue_threaded", "finish_client_closes", "finish_server_closes",
            "finish_both_close", "refused", "abort_rst", "rst_after_close", "half_close", "syn_timeout",
            "coalesced", "framing", "zero_window", "lossy_bulk"} <= set(BY_NAME)  # fmt: skip
    assert BY_NAME["echo"].port == 20000
    assert BY_NAME["dialogue"].port == 6000
    assert "--threaded" in (BY_NAME["dialogue_threaded"].server or ())


# --- the facts, on the sample captures recorded with the same recipes -------------------------------------------


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_facts_hold_on_the_sample_capture(lab: object) -> None:
    from tcptrace.lab.labs import Lab

    assert isinstance(lab, Lab)
    assert check_facts(lab, _sample(lab.name)) == {}


# Each lab's facts, checked on another lab's capture, must fail: they tell the experiments apart.
WRONG_CAPTURE = {
    "echo": "finish_server_closes",
    "dialogue": "echo",
    "dialogue_threaded": "dialogue",
    "finish_client_closes": "finish_server_closes",
    "finish_server_closes": "finish_client_closes",
    "finish_both_close": "finish_client_closes",
    "refused": "syn_timeout",
    "abort_rst": "rst_after_close",
    "rst_after_close": "abort_rst",
    "half_close": "finish_client_closes",
    "syn_timeout": "refused",
    "coalesced": "echo",
    "framing": "coalesced",
    "zero_window": "lossy_bulk",
    "lossy_bulk": "zero_window",
}


@pytest.mark.parametrize("name", sorted(WRONG_CAPTURE))
def test_facts_fail_on_another_labs_capture(name: str) -> None:
    assert check_facts(BY_NAME[name], _sample(WRONG_CAPTURE[name]))


def test_fact_messages_say_what_was_seen() -> None:
    missed = check_facts(BY_NAME["finish_client_closes"], _sample("finish_server_closes"))
    assert missed[Fact("closed", "graceful_close_by_client")] == (
        "closed 'graceful_close_by_server', not 'graceful_close_by_client'"
    )
    assert (
        "lack FIN_WAIT_1 > FIN_WAIT_2 > TIME_WAIT"
        in missed[Fact("states", role="client", values=("FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"))]
    )


def test_syn_backoff_reads_the_syn_times() -> None:
    # syn_timeout.pcap (sample_pcaps/README.md): the SYN at 0 s, retransmitted about 1, 3 and 7 s later
    times = syn_times(_sample("syn_timeout"))
    gaps = [round(b - a) for a, b in itertools.pairwise(times)]
    assert gaps == [1, 2, 4]


# --- the command group, without root --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lab_list(lang: str) -> None:
    r = CliRunner().invoke(main, ["lab", "list", "--lang", lang])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == [lab.name for lab in LABS]
    assert all(lab.title[lang] in r.stdout for lab in LABS)


def test_show_code_prints_the_programs_and_how_to_run_them() -> None:
    r = CliRunner().invoke(main, ["lab", "finish_server_closes", "--show-code"])
    assert r.exit_code == 0
    assert r.stdout == program_listing(BY_NAME["finish_server_closes"])
    assert (PROGRAMS / "finish.py").read_text() in r.stdout
    assert "# run as: python3 finish.py server --host 10.99.0.1 --port 20000 --closer server" in r.stdout
    assert ("sudo tcptrace lab run finish.py finish.py --port 20000 --server-args '--closer server' "
            "--client-args '--closer server'") in r.stdout  # fmt: skip
    echo = CliRunner().invoke(main, ["lab", "echo", "--show-code"]).stdout
    assert (PROGRAMS / "echo_server.py").read_text() in echo
    assert (PROGRAMS / "echo_client.py").read_text() in echo
    assert "sudo tcptrace lab run echo_server.py echo_client.py --port 20000\n" in echo
    rules = CliRunner().invoke(main, ["lab", "syn_timeout", "--show-code"]).stdout
    assert "#   (server) iptables -A INPUT -p tcp --dport 20002 -j DROP" in rules


def test_a_lab_that_changes_the_network_says_it_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    import tcptrace.lab.runner

    monkeypatch.setattr(tcptrace.lab.runner, "can_make_namespaces", lambda: "root")
    r = CliRunner().invoke(main, ["lab", "syn_timeout"])
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1
    assert "needs root: run it with sudo" in r.stderr


def test_a_capture_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["lab", "echo", "--write", str(tmp_path / "missing" / "echo.pcap")])
    assert r.exit_code == 2
    assert r.stderr.startswith("tcptrace: error: cannot write ")
    assert r.stderr.count("\n") == 1
    assert r.stdout == ""  # nothing ran


NOBODY = shutil.which("setpriv") and subprocess.run(["id", "-u", "nobody"], capture_output=True).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0 or not NOBODY, reason="needs root (to become nobody) and setpriv")
def test_without_root_one_line_says_what_is_needed() -> None:
    """As an ordinary user the lab falls back to the host loopback; tcpdump may not capture there (no
    cap_net_raw), so one line says what would do, exit 2, no traceback."""
    cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m", "tcptrace",
           "lab", "echo"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, cwd="/", timeout=60)
    if p.returncode == 0:
        pytest.skip("nobody may capture on this machine (a capture program with capabilities)")
    if "No module named" in p.stderr:
        pytest.skip("nobody cannot import this installation of tcptrace")
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1, p.stderr
    assert p.stderr.startswith("tcptrace: error: tcptrace lab needs root (sudo)")
    assert "Traceback" not in p.stderr


# --- as root: every lab in its own namespaces ------------------------------------------------------------------


def _why_no_namespaces() -> str:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not shutil.which("ip"):
        return "needs ip (iproute2)"
    if not (shutil.which("tcpdump") or shutil.which("dumpcap")):
        return "needs tcpdump or dumpcap"
    probe = f"tcptrace-lab-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"network namespaces not permitted here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


NO_NAMESPACES = _why_no_namespaces()
needs_namespaces = pytest.mark.skipif(bool(NO_NAMESPACES), reason=NO_NAMESPACES)


def _our_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [ln.split()[0] for ln in out.splitlines() if f"-{os.getpid()}-" in ln]


@needs_namespaces
@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.name)
def test_every_lab_runs_and_shows_its_facts(lab: object, tmp_path: Path) -> None:
    from tcptrace.lab.labs import Lab

    assert isinstance(lab, Lab)
    for need in lab.needs:
        if not shutil.which(need):
            pytest.skip(f"lab {lab.name} needs {need}")
    # finish_both_close: the FINs cross only when both sides close at the same instant (finish.py spins to it,
    # pinned and at real-time priority); on a busy machine one side may be late: up to three tries
    for _ in range(3 if lab.name == "finish_both_close" else 1):
        out: list[str] = []
        run = run_lab(lab, echo=out.append, write=tmp_path / "lab.pcap")
        assert run.warnings == [], "".join(out)
        assert all(code == 0 for code in run.exits.values())
        missed = check_facts(lab, tmp_path / "lab.pcap")
        if not missed:
            break
    assert missed == {}, "".join(out)
    text = "".join(out)
    assert text.startswith(f"lab {lab.name}: ")
    assert "Stream 0: client 10.99.0.2:" in text  # the story of the capture, in the private network
    assert _our_namespaces() == []


@needs_namespaces
@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "closed by the client"]),
        ("zh", ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "由客户端主动关闭", "四次挥手"]),
    ],
)
def test_the_story_says_who_closed_and_the_states(lang: str, words: list[str], tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["lab", "finish_client_closes", "--lang", lang, "--write", str(tmp_path / "f.pcap")])
    assert r.exit_code == 0, r.stderr
    for word in words:
        assert word in r.stdout, word
    # told live (tcptrace.live.narrate_live): the handshake's steps come out while the client is still sending its
    # five messages (400 ms), before the line it prints when it has finished; a story told at the end could not
    lines = r.stdout.splitlines()
    first_step = next(i for i, line in enumerate(lines) if re.match(r"\s+1\. \[", line))
    # the programs' own lines are labelled in the story's language
    assert first_step < lines.index("  client | finished" if lang == "en" else "  客户端 | finished"), r.stdout
    assert check_facts(BY_NAME["finish_client_closes"], tmp_path / "f.pcap") == {}


@needs_namespaces
def test_lab_run_captures_your_own_programs(tmp_path: Path) -> None:
    """The learner's copy of the echo programs, changed to send three bytes, and the two-role finish.py told to
    let the server close first: `lab run` gives them the same network and capture."""
    server, client = tmp_path / "server.py", tmp_path / "client.py"
    shutil.copy(PROGRAMS / "echo_server.py", server)
    client.write_text((PROGRAMS / "echo_client.py").read_text().replace('return b"AB"', 'return b"XYZ"'))
    r = CliRunner().invoke(main, ["lab", "run", str(server), str(client), "--port", "7000",
                                  "--write", str(tmp_path / "run.pcap")])  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "client | echoed 3 bytes" in r.stdout
    assert "10.99.0.1:7000" in r.stdout
    facts = (Fact("bytes", role="c2s", n=3), Fact("bytes", role="s2c", n=3), Fact("closed", "graceful_close_by_client"))
    row = BY_NAME["echo"].__class__("run", {"en": "", "zh": ""}, 7000, None, (), facts)
    assert check_facts(row, tmp_path / "run.pcap") == {}
    finish = str(PROGRAMS / "finish.py")
    argv = ["lab", "run", finish, finish, "--server-args", "--closer server --delay 0.1",
            "--client-args", "--closer server --count 1", "--write", str(tmp_path / "f.pcap")]  # fmt: skip
    r = CliRunner().invoke(main, argv)
    assert r.exit_code == 0, r.stderr
    assert check_facts(BY_NAME["finish_server_closes"], tmp_path / "f.pcap") == {}


@needs_namespaces
def test_a_failing_program_ends_with_everything_cleaned_up(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit('cannot start')\n")
    r = CliRunner().invoke(main, ["lab", "run", str(broken), str(PROGRAMS / "echo_client.py")])
    assert r.exit_code == 2
    assert "the server program did not start listening on port 20000" in r.stderr
    assert _our_namespaces() == []


@needs_namespaces
def test_ctrl_c_stops_the_programs_and_deletes_the_namespaces(tmp_path: Path) -> None:
    """SIGINT in the middle of zero_window (its server stalls 2 s): the programs are ended, the story of what was
    captured is told, the namespaces are deleted, exit 130. The programs and the capture child run in sessions of
    their own, so a terminal's Ctrl-C reaches tcptrace only, as this SIGINT does."""
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "tcptrace", "lab", "zero_window"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=tmp_path)  # fmt: skip
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.strip() == "tcptrace: interrupted"
    assert "Stream 0: client 10.99.0.2:" in out  # what was captured before the Ctrl-C, told
    assert "read 65536 bytes" not in out  # the server was stopped in its stall
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"-{p.pid}-" not in names
    left = subprocess.run(["pgrep", "-f", str(PROGRAMS / "zero_window.py")], capture_output=True, text=True)
    assert left.stdout == ""


@pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("tcpdump") or shutil.which("dumpcap")),
    reason="needs a capture on the host's loopback: root and tcpdump or dumpcap",
)
def test_without_namespaces_the_lab_runs_on_the_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The fallback when no namespace can be made (not root): the programs on 127.0.0.1, the capture on lo
    filtered to the lab's port (a free one here, so nothing else on this machine is in the way)."""
    import socket

    import tcptrace.lab.runner

    monkeypatch.setattr(tcptrace.lab.runner, "can_make_namespaces", lambda: "root")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server, client = str(PROGRAMS / "echo_server.py"), str(PROGRAMS / "echo_client.py")
    r = CliRunner().invoke(
        main, ["lab", "run", server, client, "--port", str(port), "--write", str(tmp_path / "lo.pcap")]
    )
    assert r.exit_code == 0, r.stderr
    assert "Stream 0: client 127.0.0.1:" in r.stdout
    assert f"server 127.0.0.1:{port}" in r.stdout
    facts = (Fact("bytes", role="c2s", n=2), Fact("bytes", role="s2c", n=2), Fact("closed", "graceful_close_by_client"))
    row = BY_NAME["echo"].__class__("run", {"en": "", "zh": ""}, port, None, (), facts)
    assert check_facts(row, tmp_path / "lo.pcap") == {}
