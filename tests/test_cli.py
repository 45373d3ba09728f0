"""The command line, through click's CliRunner and `python -m tcptrace` (never whatever `tcptrace` PATH finds:
Debian's tcptrace package installs the classic C tool under that name)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pcapgen as g
import pytest
from click.testing import CliRunner
from conftest import OUTSIDE, SAMPLES

from tcptrace.cli import main, run_cli

ECHO = SAMPLES / "echo_ipv4.pcap"
REQUIRED_KEYS = {"frame", "time", "stream", "src", "sport", "dst", "dport", "flags", "seq", "ack", "seq_raw",
                 "ack_raw", "len", "win", "win_raw"}  # fmt: skip


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_packets_jsonl_has_the_documented_keys() -> None:
    code, out, _ = invoke("packets", "--format", "jsonl", str(ECHO))
    assert code == 0
    recs = [json.loads(line) for line in out.splitlines()]
    assert recs
    assert all(set(r) >= REQUIRED_KEYS for r in recs)
    syn = recs[0]
    assert syn["flags"] == ["SYN"]
    assert syn["seq"] == 0
    assert syn["dport"] == 20000
    assert recs[1]["flags"] == ["SYN", "ACK"]
    assert recs[1]["ack"] == 1
    assert recs[1]["ack_raw"] == (syn["seq_raw"] + 1) % 2**32


def test_packets_csv_and_table_agree_with_jsonl() -> None:
    _, out, _ = invoke("packets", "--format", "jsonl", str(ECHO))
    recs = [json.loads(line) for line in out.splitlines()]
    code, out, _ = invoke("packets", "--format", "csv", str(ECHO))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["frame"]) for r in rows] == [r["frame"] for r in recs]
    assert [int(r["win"]) for r in rows] == [r["win"] for r in recs]
    code, out, _ = invoke("packets", str(ECHO))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["frame", "time", "stream"]
    assert len(lines) == len(recs) + 2  # header, one line per segment, accounting
    assert "TCP segments" in lines[-1]


def test_stream_selection(tmp_path: Path) -> None:
    data = g.pcap(g.records([g.ether(p) for p in g.handshake_and_data(sport=1111) + g.handshake_and_data(2222)]))
    (tmp_path / "two.pcap").write_bytes(data)
    code, out, _ = invoke("packets", "-s", "1", "--format", "jsonl", str(tmp_path / "two.pcap"))
    assert code == 0
    streams = {json.loads(line)["stream"] for line in out.splitlines()}
    assert streams == {1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"hello, this is text\n", "not a pcap or pcapng"),
        (g.pcap(g.records([b"\x00" * 40]), linktype=147), "unsupported link type 147"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "bad.pcap"
    f.write_bytes(content)
    code, _out, err = invoke("packets", str(f))
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_file_and_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli(["packets", str(tmp_path / "nope.pcap")]) == 2
    assert run_cli(["packets"]) == 2
    assert run_cli(["packets", "--format", "xml", str(ECHO)]) == 2


def test_truncated_capture_warns_and_prints_what_was_read(tmp_path: Path) -> None:
    f = tmp_path / "cut.pcap"
    f.write_bytes(ECHO.read_bytes()[:-7])
    code, out, err = invoke("packets", "--format", "jsonl", str(f))
    assert code == 0
    assert out.count("\n") >= 5
    assert err.startswith("warning: capture cut in the middle of frame")


def test_explain_shows_streams_and_roles() -> None:
    code, out, _ = invoke("explain", str(ECHO))
    assert code == 0
    assert out.startswith("Stream 0: client 10.99.0.2:")
    assert "→ server 10.99.0.1:20000" in out


def _python_m(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    # from outside the checkout: the installed package, not the sources (conftest.OUTSIDE)
    return subprocess.run(
        [sys.executable, "-m", "tcptrace", *args], input=stdin, capture_output=True, timeout=60, cwd=OUTSIDE
    )


def test_stdin_pipe_with_python_m() -> None:
    p = _python_m("packets", "--format", "jsonl", "-", stdin=g.gz(ECHO.read_bytes()))
    assert p.returncode == 0, p.stderr
    direct = _python_m("packets", "--format", "jsonl", str(ECHO))
    assert p.stdout == direct.stdout
    assert p.stdout


def test_quick_start_main_job_runs() -> None:
    """The README's first Quick start command runs `tcptrace explain` on a shipped sample."""
    readme = (SAMPLES.parent / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [ln for ln in block.splitlines()[1:] if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2
    target = commands[0].rsplit("tcptrace ", 1)[1].split()
    # run from outside the checkout (the installed package): the README's paths are relative to the checkout
    target = [str(SAMPLES.parent / a) if (SAMPLES.parent / a).exists() else a for a in target]
    p = _python_m(*target)
    assert p.returncode == 0, p.stderr
    assert b"Stream 0" in p.stdout


def test_packets_jsonl_has_analysis_states_and_phase() -> None:
    code, out, _ = invoke("packets", "--format", "jsonl", str(SAMPLES / "lossy_bulk.pcap"))
    assert code == 0
    recs = [json.loads(line) for line in out.splitlines()]
    assert {"analysis", "client_state", "server_state", "phase"} <= set(recs[0])
    assert recs[0]["phase"] == "handshake"
    flagged = [r for r in recs if "retransmission" in r["analysis"]]
    assert flagged
    assert all("evidence" in r for r in flagged)


def test_flows_formats() -> None:
    code, out, _ = invoke("flows", str(SAMPLES / "port_reuse.pcap"))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 4  # header, two streams, accounting
    assert "closed by the server" in lines[1]
    code, out, _ = invoke("flows", "--format", "json", str(SAMPLES / "refused.pcap"))
    assert code == 0
    doc = json.loads(out)
    (flow,) = doc["flows"]
    assert flow["opened"] == "refused"
    assert flow["zeek"]["conn_state"] == "REJ"
    assert doc["stats"]["frames"] == 4
    code, out, _ = invoke("flows", "--format", "csv", "-s", "1", str(SAMPLES / "port_reuse.pcap"))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["stream"] for r in rows] == ["1"]
    assert rows[0]["conn_state"] == "SF"


@pytest.mark.parametrize("command", [["flows"], ["packets"], ["explain"], ["check", "--forbid", "rst"]])
def test_host_and_port_selection_on_every_reading_command(command: list[str]) -> None:
    """--host takes an address or a CIDR prefix (it used to match nothing for 127.0.0.0/8), never a host name;
    a selection that matches nothing says so and exits non-zero."""
    from click.testing import CliRunner

    from tcptrace.cli import main

    runner = CliRunner()
    cap = str(SAMPLES / "dialogue_threaded.pcap")
    r = runner.invoke(main, [command[0], cap, *command[1:], "--host", "10.99.0.0/24", "--port", "6000"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, [command[0], cap, *command[1:], "--host", "localhost"])
    assert r.exit_code == 2
    assert "host names are not resolved" in r.output
    r = runner.invoke(main, [command[0], cap, *command[1:], "--host", "fd00::/8"])
    assert r.exit_code == 1
    assert "matches the selection" in r.output


def test_selection_matches_prefixes_and_ports() -> None:
    from tcptrace.engine import summarize
    from tcptrace.selection import Selection, SelectionError

    summaries, _ = summarize(SAMPLES / "port_reuse.pcap")
    flows = [s.flow for s in summaries]
    assert all(Selection.of(hosts=["10.99.0.1"]).matches(f) for f in flows)
    assert all(Selection.of(hosts=["10.0.0.0/8"]).matches(f) for f in flows)
    assert not any(Selection.of(hosts=["10.99.1.0/24"]).matches(f) for f in flows)
    assert not any(Selection.of(hosts=["::1"]).matches(f) for f in flows)  # other family: no match, no error
    assert [Selection.of(streams=[1]).matches(f) for f in flows] == [False, True]
    assert all(Selection.of(ports=[40000]).matches(f) for f in flows)
    assert not any(Selection.of(ports=[40000], hosts=["10.99.1.0/24"]).matches(f) for f in flows)
    with pytest.raises(SelectionError, match="not resolved"):
        Selection.of(hosts=["example.com"])
    with pytest.raises(SelectionError):
        Selection.of(hosts=["10.0.0.0/33"])


def test_version_names_the_active_engine() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tcptrace", "--version"], cwd=OUTSIDE, capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("tcptrace, version ")
    assert "engine" in out.stdout
    env = {**__import__("os").environ, "TCPTRACE_ENGINE": "python"}
    out = subprocess.run([sys.executable, "-m", "tcptrace", "--version"], cwd=OUTSIDE, capture_output=True,
                         text=True, check=True, env=env)  # fmt: skip
    assert "pure-Python engine (TCPTRACE_ENGINE=python)" in out.stdout


# --- conventions (issue #15): examples in --help, help on every option, colour, exit status ----------------------


def _help_examples(command: str) -> list[str]:
    """The example command lines at the end of ``tcptrace COMMAND --help``, as printed."""
    code, out, _ = invoke(command, "--help")
    assert code == 0
    assert "Examples:" in out, f"{command} --help has no examples"
    block = out.split("Examples:", 1)[1]
    return [ln.strip() for ln in block.splitlines() if ln.strip().startswith("tcptrace ")]


COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_example_runs(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each example printed by --help runs as printed (in a scratch directory beside the sample captures): exit 0,
    or the exit status its own comment announces. Live examples (commented "# live": they capture from an interface
    or follow a file another program writes, until Ctrl-C) are parsed, not run: tests/test_live.py runs live
    captures in a network namespace of its own."""
    import shlex

    examples = _help_examples(command)
    live = [e for e in examples if e.partition("#")[2].strip().startswith("live")]
    assert 2 <= len(examples) - len(live) <= 3
    assert len(live) <= 2
    (tmp_path / "sample_pcaps").symlink_to(SAMPLES)
    monkeypatch.chdir(tmp_path)
    for example in live:
        argv = shlex.split(example.partition("#")[0])
        assert argv[:2] == ["tcptrace", command]
        assert "-i" in argv or "--follow" in argv, example
        if "--follow" in argv:  # the file a capture program would be writing
            (tmp_path / argv[argv.index("--follow") + 1]).touch()
        ctx = main.commands[command].make_context(command, argv[2:], resilient_parsing=True)
        assert ctx.params.get("interface") or ctx.params.get("follow_path"), example
    for example in examples:
        if example in live:
            continue
        line, _, comment = example.partition("#")
        argv = shlex.split(line)
        assert argv[:2] == ["tcptrace", command]
        expected = int(comment.split("exits ", 1)[1].split(":")[0]) if "exits " in comment else 0
        r = CliRunner().invoke(main, argv[1:])
        assert r.exception is None or isinstance(r.exception, SystemExit), (example, r.exception)
        assert r.exit_code == expected, (example, r.stderr)
        assert r.stdout, example


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_text(command: str) -> None:
    import click

    bare = [p.opts[0] for p in main.commands[command].params if isinstance(p, click.Option) and not p.help]
    assert bare == []


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ((), {}, False),  # not a terminal: no colour
        (("--color",), {}, True),
        (("--color",), {"NO_COLOR": "1"}, True),  # the flag beats the variable
        (("--no-color",), {}, False),
    ],
)
@pytest.mark.parametrize("command", ["explain", "packets", "check"])
def test_color_flag_and_no_color(command: str, args: tuple[str, ...], env: dict[str, str], coloured: bool) -> None:
    extra = ("--forbid", "retransmission") if command == "check" else ()
    r = CliRunner(env=env).invoke(main, [command, str(SAMPLES / "lossy_bulk.pcap"), *extra, *args], color=True)
    assert ("\x1b[" in r.stdout) is coloured, r.stdout[:300]


def test_no_color_is_honoured_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR (any non-empty value, no-color.org) turns the terminal default off; without it a terminal gets
    colour."""
    from tcptrace import cli

    monkeypatch.setattr(cli.sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli._use_color(None) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._use_color(None) is False
    monkeypatch.setenv("NO_COLOR", "")
    assert cli._use_color(None) is True


def test_exit_status_table_in_the_readme_matches_the_code() -> None:
    from tcptrace import cli

    readme = (SAMPLES.parent / "README.md").read_text()
    table = readme.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    codes = {int(row.split("|")[1].strip(" `")) for row in table.splitlines() if row.startswith("| `")}
    assert codes == {cli.EXIT_OK, cli.EXIT_NO, cli.EXIT_ERROR, cli.EXIT_INTERRUPTED}


def test_ctrl_c_exits_130_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import tcptrace.engine

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tcptrace.engine, "summarize_lazily", interrupted)
    r = CliRunner().invoke(main, ["flows", str(ECHO)])
    assert r.exit_code == 130
    assert r.stderr.strip() == "tcptrace: interrupted"


def test_a_missing_engine_is_noticed_unless_python_was_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a C compiler pip installs the pure-Python path silently; the CLI says so (on a terminal) and
    --version names the engine."""
    import tcptrace.engine
    from tcptrace import cli

    monkeypatch.delenv("TCPTRACE_ENGINE", raising=False)
    monkeypatch.setattr(tcptrace.engine, "engine_module", lambda: None)
    assert cli._engine_missing() is True
    assert "the C engine is not built" in cli._version_message()
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    assert cli._engine_missing() is False
    assert "TCPTRACE_ENGINE=python" in cli._version_message()
