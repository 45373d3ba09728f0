"""Hostile and damaged input and output (issue #13): no traceback, ever.

Output paths that cannot be written, standard output on a full disk, closed or gone (`| head -1`), standard
input closed, option values the code cannot draw, images too large for PNG, baselines nested too deeply or of
the wrong shape, reader warnings on every command (and `check --strict`), HTML in payloads rendered as
Markdown, file names carrying terminal escape sequences or bytes that are not UTF-8, an ASCII-only stdout.

Every capture here is a synthetic fixture built by code (tests/pcapgen.py), not recorded traffic. The CLI runs
through click's CliRunner, or as `python -m tcptrace` in a subprocess where real file descriptors matter (never
a `tcptrace` found on PATH: that is the classic C tool).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pcapgen as g
import pytest
from click.testing import CliRunner
from conftest import OUTSIDE

from tcptrace.cli import DPI_MAX, LADDER_WIDTH_MIN_IN, WIDTH_MAX_IN, main
from tcptrace.errors import ImageTooLarge
from tcptrace.output import check_png_size, display_path, path_text, printable, replacing


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def python_m(*args: str | bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tcptrace", *args], capture_output=True, timeout=60, env=env, cwd=OUTSIDE
    )


def one_error_line(err: str, start: str = "tcptrace: error: ") -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(start), err
    return lines[0]


def small_capture(path: Path, payload: bytes = b"hello") -> Path:
    """A handshake, one data segment and its ACK (built by code)."""
    pkts = g.handshake_and_data()
    if payload != b"hello":
        pkts[3] = g.ipv4(g.tcp(40000, 80, 1001, 5001, g.PSH | g.ACK, 502, payload=payload))
        pkts[4] = g.ipv4(g.tcp(80, 40000, 5001, 1001 + len(payload), g.ACK, 255), "10.0.0.2", "10.0.0.1")
    path.write_bytes(g.pcap(g.records([g.ether(p) for p in pkts])))
    return path


def long_flow(path: Path, pairs: int) -> Path:
    """A handshake, then ``pairs`` times a 10-byte data segment and its ACK (built by code): with
    ``diagram -v --spacing even`` every one of them is a row of the ladder."""
    pkts = g.handshake_and_data()
    seq = 1006
    for _ in range(pairs):
        pkts.append(g.ipv4(g.tcp(40000, 80, seq, 5001, g.PSH | g.ACK, 502, payload=b"0123456789")))
        seq += 10
        pkts.append(g.ipv4(g.tcp(80, 40000, 5001, seq, g.ACK, 255), "10.0.0.2", "10.0.0.1"))
    path.write_bytes(g.pcap(g.records([g.ether(p) for p in pkts])))
    return path


def damaged_capture(path: Path) -> Path:
    """A small capture whose last record header claims 0xFFFFFFFF captured bytes (built by code)."""
    data = g.pcap(g.records([g.ether(p) for p in g.handshake_and_data()]))
    path.write_bytes(data + struct.pack("<IIII", 1_700_000_001, 0, 0xFFFFFFFF, 60) + b"\x00" * 20)
    return path


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


# --- 1. output paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["diagram", "-o", "/nonexistent/x.png"],
        ["diagram", "-o", "/nonexistent/x.svg"],
        ["diagram", "-o", "/nonexistent/x.pdf"],
        ["diagram", "--format", "mermaid", "-o", "/nonexistent/x.md"],
        ["graph", "-o", "/nonexistent/x.png"],
        ["graph", "-o", "/nonexistent/x.svg"],
        ["check", "--require", "data", "--junit", "/nonexistent/j.xml"],
    ],
)
def test_an_output_path_in_a_missing_directory_is_one_line(tmp_path: Path, args: list[str]) -> None:
    """The capture is built by code (small_capture)."""
    cap = small_capture(tmp_path / "c.pcap")
    code, _, err = invoke(args[0], str(cap), *args[1:])
    assert code == 2
    line = one_error_line(err)
    assert f"cannot write {args[-1]}: " in line
    assert "No such file or directory" in line


@pytest.mark.skipif(not os.path.exists("/proc/version"), reason="needs Linux /proc")
def test_junit_to_a_file_that_fails_on_write_is_one_line(tmp_path: Path) -> None:
    """/proc/version takes no writes (EIO when written in place; no file can be created beside it). The capture
    is built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    code, _, err = invoke("check", str(cap), "--require", "data", "--junit", "/proc/version")
    assert code == 2
    assert "cannot write /proc/version: " in one_error_line(err)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_unwritable_directory_is_one_line_and_keeps_the_file(tmp_path: Path) -> None:
    """The capture is built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    out = tmp_path / "ro"
    out.mkdir()
    (out / "x.png").write_bytes(b"old")
    out.chmod(0o500)
    try:
        code, _, err = invoke("diagram", str(cap), "-o", str(out / "x.png"))
    finally:
        out.chmod(0o700)
    assert code == 2
    assert "Permission denied" in one_error_line(err)
    assert (out / "x.png").read_bytes() == b"old"


@pytest.mark.parametrize(
    ("where", "failure"),
    [("create", errno.EACCES), ("create", errno.EROFS), ("flush", errno.EIO), ("flush", errno.ENOSPC)],
)
@pytest.mark.parametrize(
    "args",
    [
        ["diagram", "-o", "{out}.png"],
        ["diagram", "--format", "plantuml", "-o", "{out}.puml"],
        ["graph", "-o", "{out}.svg"],
        ["check", "--require", "data", "--junit", "{out}.xml"],
    ],
)
def test_a_failing_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, failure: int, args: list[str]
) -> None:
    """The directory refuses a new file (EACCES, EROFS: what root cannot be made to see with chmod), or the disk
    fails as the new file is flushed (EIO, ENOSPC): one line, exit 2, the old file as it was, no temporary file
    left. The failures are simulated; the capture is built by code."""
    import tcptrace.output

    cap = small_capture(tmp_path / "c.pcap")
    args = [a.format(out=tmp_path / "out") for a in args]
    target = Path(args[-1])
    target.write_bytes(b"the old file")

    def fail(*_: object) -> None:
        raise OSError(failure, os.strerror(failure))

    if where == "create":
        monkeypatch.setattr(tcptrace.output, "_create_beside", fail)
    else:
        monkeypatch.setattr(tcptrace.output.os, "fsync", fail)
    code, _, err = invoke(args[0], str(cap), *args[1:])
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"tcptrace: error: cannot write {target}: ")
    assert line.endswith(os.strerror(failure))
    assert target.read_bytes() == b"the old file"
    assert no_temp_files(tmp_path)


def test_a_successful_write_replaces_the_file_keeping_its_mode(tmp_path: Path) -> None:
    """The capture is built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    out = tmp_path / "l.svg"
    out.write_bytes(b"old")
    out.chmod(0o640)
    code, stdout, _ = invoke("diagram", str(cap), "-o", str(out))
    assert code == 0
    assert stdout == f"wrote {out}\n"
    assert ET.parse(out).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert no_temp_files(tmp_path)


def test_replacing_follows_links_and_writes_devices_in_place(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with replacing(link) as f:
        f.write(b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"
    with replacing(os.devnull) as f:  # not a regular file: written in place, never renamed over
        f.write(b"x")
    assert not stat.S_ISREG(os.stat(os.devnull).st_mode)

    def interrupted() -> None:
        with replacing(real) as f:
            f.write(b"half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted()
    assert real.read_bytes() == b"new"
    assert no_temp_files(tmp_path)


# --- 2. standard output and input --------------------------------------------------------------------------


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`tcptrace packets X | head -1`: exit 0 and nothing on stderr, whether the pipe breaks while the packets are
    written (a flow of 3,000 segments, built by code, is more than a pipe buffers) or at the last flush (the read
    end closed before anything was written)."""
    big = long_flow(tmp_path / "big.pcap", 1500)
    small = small_capture(tmp_path / "c.pcap")
    cases = [(["packets", "--format", fmt, str(big)], True) for fmt in ("table", "jsonl")]
    cases += [([*args, str(small)], False) for args in (["packets"], ["explain"], ["flows", "--format", "json"])]
    for args, read_a_line in cases:
        with subprocess.Popen([sys.executable, "-m", "tcptrace", *args], cwd=OUTSIDE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) as p:  # fmt: skip
            assert p.stdout is not None
            assert p.stderr is not None
            if read_a_line:  # `| head -1`
                assert p.stdout.readline()
            p.stdout.close()  # before anything was written, for the small capture
            err = p.stderr.read()
            assert p.wait(timeout=60) == 0, (args, err)
        assert err == b"", args


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["packets"], ["flows", "--format", "json"], ["explain"]])
def test_stdout_on_a_full_disk_is_one_line(tmp_path: Path, args: list[str]) -> None:
    """`> /dev/full`. The capture is built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    with open("/dev/full", "wb") as full:
        p = subprocess.run([sys.executable, "-m", "tcptrace", *args, str(cap)], cwd=OUTSIDE, stdout=full,
                           stderr=subprocess.PIPE, timeout=60)  # fmt: skip
    assert p.returncode == 2
    assert one_error_line(p.stderr.decode()) == "tcptrace: error: cannot write to standard output: " + os.strerror(
        errno.ENOSPC
    )


def test_stdout_closed_or_not_writable_is_one_line(tmp_path: Path) -> None:
    """`>&-` (descriptor 1 closed in the child) and `1</dev/null` (open, but not for writing). The capture is
    built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    p = subprocess.run([sys.executable, "-m", "tcptrace", "packets", str(cap)], cwd=OUTSIDE, stderr=subprocess.PIPE,
                       preexec_fn=lambda: os.close(1), timeout=60)  # fmt: skip
    assert p.returncode == 2
    assert "standard output is closed" in one_error_line(p.stderr.decode())
    with open(os.devnull, "rb") as read_only:
        p = subprocess.run([sys.executable, "-m", "tcptrace", "packets", str(cap)], cwd=OUTSIDE, stdout=read_only,
                           stderr=subprocess.PIPE, timeout=60)  # fmt: skip
    assert p.returncode == 2
    assert "cannot write to standard output: " in one_error_line(p.stderr.decode())


def test_stdin_closed_with_dash_is_one_line() -> None:
    """`tcptrace packets - <&-`: descriptor 0 closed in the child."""
    p = subprocess.run([sys.executable, "-m", "tcptrace", "packets", "-"], cwd=OUTSIDE, capture_output=True,
                       preexec_fn=lambda: os.close(0), timeout=60)  # fmt: skip
    assert p.returncode == 2
    assert "standard input is closed" in one_error_line(p.stderr.decode())


# --- 3. option bounds and images too large -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["diagram", "--width", "3.5", "-o", "{out}.png"],
        ["diagram", "--width", "201", "-o", "{out}.svg"],
        ["diagram", "--dpi", "100000", "-o", "{out}.png"],
        ["graph", "--dpi", "100000", "-o", "{out}.png"],
        ["graph", "--dpi", "19", "-o", "{out}.png"],
        ["graph", "--width", "201", "-o", "{out}.svg"],
        ["graph", "--width", "3.9", "-o", "{out}.svg"],
    ],
)
def test_option_values_the_code_cannot_draw_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    """Refused when the command line is parsed (exit 2, click's usage error), not a ValueError or MemoryError
    from drawing. The capture is built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    code, _, err = invoke(args[0], str(cap), *[a.format(out=tmp_path / "out") for a in args[1:]])
    assert code == 2
    assert "Traceback" not in err
    assert "is not in the range" in err
    assert not (tmp_path / "out.png").exists()
    assert not (tmp_path / "out.svg").exists()


def test_the_bounds_are_what_the_code_needs(tmp_path: Path) -> None:
    """The narrowest ladder click lets through is the narrowest diagram.layout draws; the extremes work. The
    capture is built by code."""
    from tcptrace.diagram import NARROWEST_IN

    assert LADDER_WIDTH_MIN_IN == NARROWEST_IN
    cap = small_capture(tmp_path / "c.pcap")
    assert invoke("diagram", str(cap), "--width", str(LADDER_WIDTH_MIN_IN), "-o", str(tmp_path / "n.png"))[0] == 0
    assert invoke("diagram", str(cap), "--width", str(WIDTH_MAX_IN), "-o", str(tmp_path / "w.svg"))[0] == 0
    code, _, err = invoke("graph", str(cap), "--width", "4", "--kind", "rtt", "-o", str(tmp_path / "g.svg"))
    assert code == 0
    assert err == ""
    assert invoke("graph", str(cap), "--dpi", str(DPI_MAX), "--width", "5", "-o", str(tmp_path / "g.png"))[0] == 0


def test_a_ladder_too_tall_for_png_is_one_line_and_keeps_the_old_file(tmp_path: Path) -> None:
    """A flow of 1,000 data segments and 1,000 ACKs (built by code), one row each with -v --spacing even: about
    550 inches, more than 65,535 pixels at 150 dpi. (A 20,000-ACK flow fails the same way, only slower to read.)
    The old image stays; SVG has no such limit."""
    cap = long_flow(tmp_path / "long.pcap", 1000)
    out = tmp_path / "ladder.png"
    out.write_bytes(b"the old image")
    code, _, err = invoke("diagram", str(cap), "-v", "--spacing", "even", "-o", str(out))
    assert code == 2
    line = one_error_line(err)
    assert "more than a PNG can hold" in line
    assert "write SVG or PDF" in line
    assert out.read_bytes() == b"the old image"
    assert no_temp_files(tmp_path)


def test_a_graph_too_large_for_png_is_one_line(tmp_path: Path) -> None:
    """Within each option's bounds, but 200 inches at 1200 dpi is 240,000 pixels across: refused before
    drawing (no MemoryError), the old file kept. The capture is built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    out = tmp_path / "g.png"
    out.write_bytes(b"old")
    code, _, err = invoke("graph", str(cap), "--width", "200", "--dpi", "1200", "-o", str(out))
    assert code == 2
    assert "more than a PNG can hold" in one_error_line(err)
    assert out.read_bytes() == b"old"


def test_check_png_size_limits_each_side_and_the_area() -> None:
    check_png_size(16, 436, 150, what="the ladder", advice="")  # the largest default ladder: 2,400 x 65,400
    with pytest.raises(ImageTooLarge, match="a side"):
        check_png_size(7, 1000, 150, what="the ladder", advice="")
    with pytest.raises(ImageTooLarge, match="more than tcptrace draws into a PNG"):
        check_png_size(50, 30, 1200, what="the graph", advice="")
    with pytest.raises(ValueError, match="more than a PNG can hold"):  # still a ValueError for API callers
        check_png_size(100, 60, 1200, what="the graph", advice="")


# --- 4. baselines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"flows": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ("[]", "its JSON is an array, not an object"),
        ('"flows"', "its JSON is a string, not an object"),
        ("null", "its JSON is null, not an object"),
        ("3", "its JSON is a number, not an object"),
        ('{"capture": "x"}', "it has no 'flows'"),
        ('{"flows": {}}', "'flows' is not a list"),
        ('{"flows": [1]}', "flow 0 of the baseline is not an object"),
        ('{"flows": [{"server": "10.0.0.2:80"}]}', "has no 'stream'"),
        ("{nope", "Expecting property name"),
        (b"\xff\xfe{}", "codec can't decode"),
    ],
)
def test_a_baseline_of_the_wrong_shape_is_one_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    """The baseline and the capture are built by code."""
    cap = small_capture(tmp_path / "c.pcap")
    base = tmp_path / "base.json"
    if isinstance(content, bytes):
        base.write_bytes(content)
    else:
        base.write_text(content)
    code, out, err = invoke("check", str(cap), "--baseline", str(base))
    assert code == 2
    assert out == ""
    line = one_error_line(err)
    assert message in line
    assert len(line) < 300


def test_baseline_strings_are_escaped_in_the_report_and_the_junit_xml(tmp_path: Path) -> None:
    """A baseline is input too: its strings reach the report and the XML (control characters escaped, the XML
    well-formed). The capture is built by code; the baseline is its own flows document, edited."""
    cap = small_capture(tmp_path / "c.pcap")
    code, out, _ = invoke("flows", "--format", "json", str(cap))
    doc = json.loads(out)
    doc["flows"][0]["opened"] = "\x1b]52;c;aGk=\x07 \x00 \udcff"
    base = tmp_path / "base.json"
    base.write_text(json.dumps(doc))
    code, out, _ = invoke("check", str(cap), "--baseline", str(base), "--junit", str(tmp_path / "j.xml"))
    assert code == 1
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\\x1b]52;c;aGk=\\x07" in out
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert root.get("failures") == "1"


# --- 5. reader warnings ------------------------------------------------------------------------------------

WARNING = "warning: record header of frame 6 claims 4294967295 captured bytes"


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--require", "handshake"],
        ["diagram"],
        ["diagram", "--format", "mermaid"],
        ["diagram", "-o", "{tmp}/d.svg"],
        ["graph", "-o", "{tmp}/g.svg"],
        ["packets"],
        ["flows"],
        ["explain"],
    ],
)
def test_every_command_prints_the_readers_warnings(tmp_path: Path, args: list[str]) -> None:
    """The capture (its last record header claims 0xFFFFFFFF bytes) is built by code."""
    cap = damaged_capture(tmp_path / "d.pcap")
    code, _, err = invoke(args[0], str(cap), *[a.format(tmp=tmp_path) for a in args[1:]])
    assert code == 0
    assert err.startswith(WARNING)
    assert err.count("warning:") == 1


def test_check_strict_fails_on_reader_warnings(tmp_path: Path) -> None:
    """The damaged capture and a clean one are built by code."""
    cap = damaged_capture(tmp_path / "d.pcap")
    code, out, err = invoke("check", str(cap), "--strict", "--require", "handshake", "--junit", str(tmp_path / "j"))
    assert code == 1
    assert err.startswith(WARNING)
    assert "FAIL  capture: strict: the capture reader warned: record header of frame 6" in out
    assert ET.parse(tmp_path / "j").getroot().get("failures") == "1"
    code, out, err = invoke("check", str(cap), "--strict", "--forbid", "rst")  # the per-packet pass, too
    assert code == 1
    assert "strict: the capture reader warned" in out
    clean = small_capture(tmp_path / "c.pcap")
    code, out, err = invoke("check", str(clean), "--strict", "-v")
    assert code == 0
    assert "PASS  capture: strict: no warnings from the capture reader" in out
    assert err == ""


# --- 6. escaping and encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"<script>alert(1)</script>", b'<img src=x onerror="alert(1)">'])
def test_markdown_escapes_html_from_the_capture(tmp_path: Path, payload: bytes) -> None:
    """The capture, whose payload is HTML, is built by code."""
    cap = small_capture(tmp_path / "c.pcap", payload)
    code, out, _ = invoke("explain", "--format", "markdown", str(cap))
    assert code == 0
    assert "<script" not in out
    assert "<img" not in out
    assert "&lt;" in out
    code, out, _ = invoke("explain", "--format", "html", str(cap))
    assert "<script" not in out
    assert "<img" not in out


def test_markdown_escapes_its_own_markup() -> None:
    from tcptrace.narrate import _md

    assert _md("[x](javascript:alert(1)) *b* `c` a|b \\") == "\\[x\\](javascript:alert(1)) \\*b\\* \\`c\\` a\\|b \\\\"
    assert _md("a < b & c") == "a &lt; b &amp; c"


OSC52 = "a\x1b]52;c;aGk=\x07b"


@pytest.mark.parametrize(
    "args",
    [
        ["packets", "{bad}"],
        ["flows", "-s", "7", "{good}"],
        ["check", "{good}", "--baseline", "{bad}"],
        ["diagram", "{good}", "-o", "{missing}"],
        ["diagram", "{good}", "-o", "{png}"],
        ["flows", "--port", "1", "{good}"],
    ],
)
def test_escape_sequences_in_file_names_are_not_echoed(tmp_path: Path, args: list[str]) -> None:
    """File names carrying an OSC 52 sequence (it would write the reader's clipboard) reach the terminal escaped,
    in error lines and in `wrote ...`. The captures are built by code."""
    names = {
        "good": str(small_capture(tmp_path / f"{OSC52}.pcap")),
        "bad": str(tmp_path / f"{OSC52}.json"),
        "missing": str(tmp_path / f"{OSC52}-dir" / "x.png"),
        "png": str(tmp_path / f"{OSC52}.png"),
    }
    Path(names["bad"]).write_text("not a capture, not JSON")
    _, out, err = invoke(*[a.format(**names) for a in args])
    assert "\x1b" not in out + err
    assert "\x07" not in out + err
    assert "\\x1b]52;c;aGk=\\x07b" in out + err
    assert "Traceback" not in err


def test_file_names_that_are_not_utf8_give_valid_json_and_xml(tmp_path: Path) -> None:
    """A capture named with the byte 0xE9 (Latin-1 é; built by code): the JSON's `capture` field and the JUnit
    XML name it as `caf\\xe9.pcap`, never with a lone surrogate no UTF-8 encoder accepts."""
    raw = os.fsencode(tmp_path) + b"/caf\xe9.pcap"
    small_capture(Path(os.fsdecode(raw)))
    shown = f"{tmp_path}/caf\\xe9.pcap"
    for args in (["flows", "--format", "json"], ["explain", "--format", "json"]):
        p = python_m(*args, raw)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout.decode("utf-8"))["capture"] == shown
    p = python_m("check", raw, "--require", "data", "--junit", str(tmp_path / "j.xml"))
    assert p.returncode == 0, p.stderr
    assert shown in p.stdout.decode("utf-8")
    assert ET.parse(tmp_path / "j.xml").getroot().get("name") == f"tcptrace check {shown}"
    p = python_m("flows", "-s", "3", raw)
    assert p.returncode == 2
    assert shown in one_error_line(p.stderr.decode("utf-8"))


@pytest.mark.parametrize(
    ("args", "check_out"),
    [
        (["flows"], lambda out: "\\u2192" in out),
        (["explain", "--lang", "zh"], lambda out: bool(out)),
        (["diagram"], lambda out: bool(out)),
        (["packets"], lambda out: bool(out)),
    ],
)
def test_an_ascii_stdout_gets_no_encode_error(
    tmp_path: Path, args: list[str], check_out: Callable[[str], bool]
) -> None:
    """PYTHONIOENCODING=ascii: what ASCII lacks is written as a backslash escape (click.echo writes UTF-8 to an
    ASCII stream of its own accord). A warning goes to stderr too. The capture is built by code."""
    cap = damaged_capture(tmp_path / "d.pcap")
    p = python_m(*args, str(cap), env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert p.returncode == 0, p.stderr
    assert b"Traceback" not in p.stderr
    assert p.stderr.decode().startswith(WARNING)
    assert check_out(p.stdout.decode("utf-8"))


def test_printable_and_path_text() -> None:
    assert printable("plain → text") == "plain → text"
    assert printable("a\x1b[2Jb\x9b\u202ec\n") == "a\\x1b[2Jb\\x9b\\u202ec\\n"
    name = os.fsdecode(b"caf\xe9\x1b.pcap")
    assert path_text(name) == "caf\\xe9\x1b.pcap"  # JSON escapes the ESC itself
    assert display_path(name) == "caf\\xe9\\x1b.pcap"
    path_text(name).encode("utf-8")
