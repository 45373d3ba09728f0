"""Live narration (tcptrace.live, docs/live.md): steps printed while the capture is still coming.

The unit tests feed sample captures into narrate_live through a pipe, record by record or byte by byte, with
pauses, and compare the time each line was printed with the time the records after it were written; their words
are compared with batch `explain`'s. The live tests capture for real (tcpdump in a network namespace of their
own, a socket server and client run in it) and need root, `ip netns` and tcpdump: they skip with the reason
otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import OUTSIDE, SAMPLES

from tcptrace import live as L
from tcptrace.cli import main
from tcptrace.narrate import explain

ECHO = SAMPLES / "echo_ipv4.pcap"


def _records(path: Path) -> tuple[bytes, list[bytes]]:
    """A little-endian microsecond pcap's file header and its records (header + data each)."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "fixture: a little-endian pcap"
    out, pos = [], 24
    while pos < len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        out.append(data[pos : pos + 16 + caplen])
        pos += 16 + caplen
    return data[:24], out


def _restamp(records: list[bytes], start: float) -> list[bytes]:
    """The records with their times moved so the first is at ``start`` (Unix seconds), gaps kept."""
    sec0, usec0 = struct.unpack_from("<II", records[0])
    base = sec0 * 1_000_000 + usec0
    out = []
    for rec in records:
        sec, usec = struct.unpack_from("<II", rec)
        t = int(start * 1_000_000) + sec * 1_000_000 + usec - base
        out.append(struct.pack("<II", t // 1_000_000, t % 1_000_000) + rec[8:])
    return out


class _Feeder:
    """Writes chunks into a pipe from a thread, pausing where asked; remembers when each chunk was written."""

    def __init__(self, chunks: list[bytes], pauses: dict[int, float] | None = None, each: float = 0.0) -> None:
        self.r, self.w = os.pipe()
        self.chunks = chunks
        self.pauses = pauses or {}
        self.each = each
        self.written: list[float] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for i, chunk in enumerate(self.chunks):
                time.sleep(self.pauses.get(i, self.each))
                self.written.append(time.monotonic())
                os.write(self.w, chunk)
        finally:
            os.close(self.w)

    def __enter__(self) -> _Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(10)
        with contextlib.suppress(OSError):
            os.close(self.r)


def _narrate(feeder: _Feeder, **kw: object) -> tuple[list[tuple[float, dict[str, object]]], L.LiveSummary]:
    lines: list[tuple[float, dict[str, object]]] = []

    def echo(line: str, color: object = None) -> None:
        lines.append((time.monotonic(), json.loads(line)))

    with feeder:
        summary = L.narrate_live(os.fdopen(feeder.r, "rb", buffering=0, closefd=False), fmt="jsonl", echo=echo,
                                 **kw)  # type: ignore[arg-type]  # fmt: skip
    return lines, summary


def _batch_steps(path: Path) -> dict[int, list[tuple[tuple[int, ...], str]]]:
    """Each stream's steps in batch explain: (frames, text)."""
    return {f.stream: [(s.frames, s.text) for s in f.steps] for f in explain(str(path))}


def _steps(lines: list[tuple[float, dict[str, object]]]) -> dict[int, list[tuple[tuple[int, ...], str]]]:
    """Each stream's steps as narrate_live printed them (streams interleave in time; each keeps its order)."""
    out: dict[int, list[tuple[tuple[int, ...], str]]] = {}
    for _, o in lines:
        if o["type"] == "step":
            out.setdefault(int(o["stream"]), []).append((tuple(o["frames"]), str(o["text"])))  # type: ignore[arg-type,call-overload]
    return out


def test_steps_are_printed_before_the_later_packets_come() -> None:
    """echo_ipv4.pcap: frames 3-5 are the handshake, 6-9 the echo of "AB", 10-12 the close. The feeder pauses
    before the data and before the close, and after the first FIN: each part is told during the pause that
    follows it, in batch explain's words."""
    head, recs = _records(ECHO)
    frame_of = {i + 1: i + 1 for i in range(len(recs))}  # record index + 1 is the frame number
    # chunk 0: the file header; chunk k: frame k
    chunks = [head, *recs]
    pauses = {6: 0.6, 10: 0.6, 11: 0.6}  # before frame 6 (data), frame 10 (FIN) and frame 11 (after the FIN)
    feeder = _Feeder(chunks, pauses)
    lines, summary = _narrate(feeder)
    written = dict(zip(frame_of, feeder.written[1:], strict=True))  # frame -> when it was written
    printed = {tuple(o["frames"]): t for t, o in lines if o["type"] == "step"}  # type: ignore[arg-type]
    assert printed[(5,)] < written[6], "the handshake's ACK is told before the data comes"
    assert printed[(3,)] < written[6]
    assert printed[(4,)] < written[6]
    for frames in ((6,), (7,), (8,), (9,)):
        assert printed[frames] < written[10], f"the data step {frames} is told before the close begins"
    assert printed[(10,)] < written[11], "a FIN waits for what follows it at most HOLD_S, not for the next packet"
    assert _steps(lines) == _batch_steps(ECHO)
    assert summary.streams == [(0, "graceful_close", False)]
    assert summary.steps == 10
    assert summary.stats.frames == 12


def test_segments_after_the_verdict_are_counted_as_late() -> None:
    """A copy of the last ACK captured after the stream's verdict was printed (END_WAIT_S after its end) is not
    told as a step; the end says how many came late, in the batch story's words."""
    head, recs = _records(ECHO)
    feeder = _Feeder([head, *recs, recs[-1]], {len(recs) + 1: L.END_WAIT_S + 0.4})
    lines, summary = _narrate(feeder)
    kinds = [o["type"] for _, o in lines]
    assert kinds.index("end") < kinds.index("late")
    late = next(o for _, o in lines if o["type"] == "late")
    assert late["stream"] == 0
    assert late["segments"] == 1
    assert str(late["text"]).startswith("(1 more segments of this stream came more than 1.000 s after it ended")
    assert summary.late == {0: 1}
    assert _steps(lines) == _batch_steps(ECHO)


@pytest.mark.parametrize("engine", ["c", "python"])
def test_packets_of_a_live_pcapng_stream_come_as_they_arrive(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """dumpcap writes pcapng: the packet listing (PacketStream, the C engine's pcapng walk or the Python one) hands
    out each packet of a live input before the next block is written."""
    from tcptrace.engine import PacketStream, engine_module

    if engine == "python":
        monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    elif engine_module() is None:
        pytest.skip("the C engine is not built")
    data = (SAMPLES / "echo_ipv6.pcapng").read_bytes()
    assert data[8:12] == b"\x4d\x3c\x2b\x1a", "fixture: a little-endian pcapng"
    blocks, pos = [], 0
    while pos < len(data):
        n = struct.unpack_from("<I", data, pos + 4)[0]
        blocks.append(data[pos : pos + n])
        pos += n
    feeder = _Feeder(blocks, each=0.15)
    got: list[tuple[float, int]] = []
    with feeder:
        live = L.LiveInput(os.fdopen(feeder.r, "rb", buffering=0, closefd=False))
        for seg in PacketStream(live, horizon_ns=0):
            got.append((time.monotonic(), seg.frame))
    assert [f for _, f in got] == list(range(3, 13))  # frames 1 and 2 are not TCP
    # block k (0: the section header, 1: the interface) carries frame k - 1
    for t, frame in got[:-1]:
        assert t < feeder.written[frame + 2], f"frame {frame} came out only after the next block was written"


def test_byte_by_byte_tells_the_batch_story() -> None:
    """A stream that arrives one byte at a time is read as it comes and told in batch explain's words."""
    data = ECHO.read_bytes()
    lines, _ = _narrate(_Feeder([data[i : i + 1] for i in range(len(data))]))
    assert _steps(lines) == _batch_steps(ECHO)


@pytest.mark.parametrize("name", ["lossy_bulk.pcap", "zero_window.pcap", "port_reuse.pcap", "refused.pcap",
                                  "dialogue_threaded.pcap", "syn_timeout.pcap"])  # fmt: skip
def test_chunks_tell_the_batch_story(name: str) -> None:
    """Fed in 700-byte chunks (records cut anywhere), collapsing, duplicate-ACK merging, several streams and a
    refused connection come out as in the batch story."""
    data = (SAMPLES / name).read_bytes()
    lines, _ = _narrate(_Feeder([data[i : i + 700] for i in range(0, len(data), 700)]))
    assert _steps(lines) == _batch_steps(SAMPLES / name)


def test_a_long_transfer_shows_a_running_line_then_its_summary_step() -> None:
    """lossy_bulk.pcap fed a record every 3 ms: the held data and ACKs are shown on the running line (a terminal's
    status callback) while they come, then told as summary steps."""
    head, recs = _records(SAMPLES / "lossy_bulk.pcap")
    shown: list[str] = []
    lines, _ = _narrate(_Feeder([head, *recs], each=0.003), status=shown.append)
    running = [s for s in shown if s]
    assert running, "no running line"
    assert all(s.startswith("… stream 0, frames ") and " so far: The " in s for s in running)
    assert any(" in " in s and " segments over " in s for s in running)
    summaries = [o for _, o in lines if o["type"] == "step" and o["kind"] == "summary"]
    assert len(summaries) >= 5
    assert "" in shown, "the running line is cleared before the next line"


def test_a_quiet_stream_has_its_held_steps_told() -> None:
    """dialogue.pcap's later messages are ordinary data and ACKs (not notable): held while their run may grow,
    they are told once the stream has been quiet for PAUSE_S, before the next message comes."""
    head, recs = _records(SAMPLES / "dialogue.pcap")
    batch = explain(str(SAMPLES / "dialogue.pcap"))[0].steps
    # frames of the first ordinary (collapsible) step in the batch story: pause right after it
    ordinary = [s for s in batch if s.kind in ("data", "ack", "summary") and s.frames[0] > 8]
    assert ordinary
    after = ordinary[0].frames[-1]
    feeder = _Feeder([head, *recs], {after + 1: L.PAUSE_S + 0.6})
    lines, _ = _narrate(feeder)
    written_next = feeder.written[after + 1]
    told = [t for t, o in lines if o["type"] == "step" and o["frames"][-1] <= after]  # type: ignore[index]
    assert told
    assert max(told) < written_next


def test_chinese_and_text_output() -> None:
    data = ECHO.read_bytes()
    out: list[str] = []
    feeder = _Feeder([data])
    with feeder:
        L.narrate_live(os.fdopen(feeder.r, "rb", buffering=0, closefd=False), lang="zh",
                       echo=lambda line, color=None: out.append(line))  # fmt: skip
    text = "\n".join(out)
    assert out[0].startswith("流 0：客户端 10.99.0.2:57356")  # noqa: RUF001 (the catalogue's punctuation)
    assert "结论：" in text  # noqa: RUF001
    assert out[-1] == "共 12 帧，10 个 TCP 报文段"  # noqa: RUF001


def test_follow_reads_a_file_while_it_is_written(tmp_path: Path) -> None:
    """--follow: another process writes the capture in two parts; the first part is told before the second is
    written, and the narration ends once the writer has closed the file."""
    head, recs = _records(ECHO)
    target = tmp_path / "growing.pcap"
    part1, part2 = head + b"".join(recs[:5]), b"".join(recs[5:])
    (tmp_path / "a").write_bytes(part1)
    (tmp_path / "b").write_bytes(part2)
    writer = (
        "import sys, time\n"
        "f = open(sys.argv[1], 'wb', buffering=0)\n"
        "f.write(open(sys.argv[2], 'rb').read()); time.sleep(1.0)\n"
        "print(time.monotonic(), flush=True)\n"
        "f.write(open(sys.argv[3], 'rb').read()); time.sleep(0.3)\n"
    )
    target.write_bytes(b"")
    with subprocess.Popen([sys.executable, "-c", writer, str(target), str(tmp_path / "a"), str(tmp_path / "b")],
                          stdout=subprocess.PIPE, text=True) as proc:  # fmt: skip
        deadline = time.monotonic() + 5
        while L.file_writers(str(target)) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert L.file_writers(str(target)) == 1
        lines: list[tuple[float, str]] = []
        with open(target, "rb") as f:
            live = L.LiveInput(f, name=str(target), follow=True, path=str(target), idle_s=10)
            L.narrate_live(live, echo=lambda line, color=None: lines.append((time.monotonic(), line)))
        second_part_at = float(proc.stdout.readline())  # type: ignore[union-attr]
    assert live.reason == "writer"
    handshake_ack = next(t for t, line in lines if "[frame 5]" in line)
    assert handshake_ack < second_part_at
    assert [ln for _, ln in lines if "[frame" in ln] == [
        ln for ln in explain(str(ECHO)).__str__().splitlines() if "[frame" in ln
    ]


def test_follow_idle_ends_a_file_nobody_writes_any_more(tmp_path: Path) -> None:
    target = tmp_path / "done.pcap"
    target.write_bytes(ECHO.read_bytes())
    r = CliRunner().invoke(main, ["explain", "--follow", str(target), "--idle", "0.3", "--format", "jsonl"])
    assert r.exit_code == 0, r.stderr
    kinds = [json.loads(line)["type"] for line in r.stdout.splitlines()]
    assert kinds.count("step") == 10
    assert kinds[-1] == "summary"


def test_a_pipe_on_stdin_is_listed_as_it_comes() -> None:
    """`tcpdump -U -w - | tcptrace packets -`: a pipe whose packets are being captured now (recent timestamps) is
    listed packet by packet, each line before the next packet is written; an old capture on a pipe keeps the
    batch listing (states settled with hindsight)."""
    head, recs = _records(ECHO)
    recs = _restamp(recs, time.time())
    proc = subprocess.Popen([sys.executable, "-m", "tcptrace", "packets", "-", "--format", "jsonl"], cwd=OUTSIDE,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    got: list[tuple[float, dict[str, object]]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            got.append((time.monotonic(), json.loads(line)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.stdin.write(head + b"".join(recs[:4]))  # the handshake (frames 3-4 of 1-4; 1-2 are not TCP)
    proc.stdin.flush()
    deadline = time.monotonic() + 15  # the rest is held back until the first packets are listed (or this passes)
    while time.monotonic() < deadline and len(got) < 2:
        time.sleep(0.02)
    wrote_rest = time.monotonic()
    proc.stdin.write(b"".join(recs[4:]))
    proc.stdin.close()
    err = proc.stderr.read()  # type: ignore[union-attr]
    assert proc.wait(20) == 0, err
    reader.join(5)
    proc.stdout.close()
    proc.stderr.close()  # type: ignore[union-attr]
    frames = {o["frame"]: t for t, o in got}
    assert frames[3] < wrote_rest
    assert frames[4] < wrote_rest
    assert sorted(frames) == list(range(3, 13))


def test_usage_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    for argv in (
        ["explain", str(ECHO), "-i", "lo"],
        ["explain"],
        ["packets", str(ECHO), "--write", str(tmp_path / "x.pcap")],
        ["explain", str(ECHO), "--format", "jsonl"],
        ["explain", "-i", "lo", "--format", "html"],
        ["explain", str(ECHO), "--idle", "3"],
        ["flows", str(ECHO), "--duration", "3"],
    ):
        r = runner.invoke(main, argv)
        assert r.exit_code == 2, (argv, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr


def test_capture_failures_are_one_line_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(L.LiveCaptureError, match="not installed"):
        L.find_tool("no-such-capture-tool")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(L.LiveCaptureError, match=r"^neither tcpdump nor dumpcap is installed"):
        L.start_capture("lo")
    r = CliRunner().invoke(main, ["explain", "-i", "lo"])
    assert r.exit_code == 2
    assert r.stderr.strip().startswith("tcptrace: error: neither tcpdump nor dumpcap")
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("tcpdump: lo: You don't have permission to perform this capture on that device\n(socket: Operation not "
         "permitted)", "tcpdump has no permission to capture on lo: run it as root"),
        ("tcpdump: nosuch0: No such device exists\n(No such device exists)", "no network interface named 'nosuch0'"),
        ('Cannot open network namespace "x": No such file or directory', "no network namespace named 'x'"),
        ("dumpcap: There is no device named \"eth9\".", "no network interface named 'eth9'"),
        # dumpcap says it captures before it finds it may not: the reason quoted is the line after
        ("Capturing on 'Loopback: lo'\ndumpcap: You do not have permission to capture on device \"lo\".\n(socket: "
         "Operation not permitted)", 'wireshark group (You do not have permission to capture on device "lo".)'),
    ],
)  # fmt: skip
def test_failure_messages_name_the_fix(said: str, expected: str) -> None:
    tool = "dumpcap" if "dumpcap" in said else "tcpdump"
    iface = "nosuch0" if "nosuch0" in said else "eth9" if "eth9" in said else "lo"
    msg = L._explain_failure(tool, iface, "x" if "namespace" in said else None, said)
    assert expected in msg
    assert "\n" not in msg


def test_a_missing_interface_is_exit_2() -> None:
    if not (shutil.which("tcpdump") or shutil.which("dumpcap")):
        pytest.skip("neither tcpdump nor dumpcap is installed")
    r = CliRunner().invoke(main, ["explain", "-i", "tcptrace-nosuch0"])
    assert r.exit_code == 2
    assert "tcptrace-nosuch0" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# --- live, for real: a network namespace of our own ----------------------------------------------------------


def _netns_skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "live capture tests need root (a network namespace and tcpdump)"
    if not shutil.which("tcpdump"):
        return "tcpdump is not installed"
    if not shutil.which("ip"):
        return "the ip command (iproute2) is not installed"
    return None


@pytest.fixture
def netns() -> Iterator[str]:
    reason = _netns_skip_reason()
    if reason:
        pytest.skip(reason)
    name = f"tcptrace-live-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 20000)); s.listen()
print("ready", flush=True)
c, _ = s.accept()
while True:
    d = c.recv(100)
    if not d:
        break
    c.sendall(d)
c.close()
"""

CLIENT = """
import socket, time
c = socket.create_connection(("127.0.0.1", 20000))
print("connected", time.monotonic(), flush=True)
time.sleep(1.0)
c.sendall(b"AB"); c.recv(10)
time.sleep(0.5)
print("closing", time.monotonic(), flush=True)
c.close()
"""


class _Live:
    """`python -m tcptrace ARGS` run inside the namespace, its stdout lines timestamped as they come."""

    def __init__(self, ns: str, *args: str) -> None:
        argv = ["ip", "netns", "exec", ns, sys.executable, "-m", "tcptrace", *args]
        self.proc = subprocess.Popen(argv, cwd=OUTSIDE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        started = self.proc.stderr.readline()
        assert "capturing on lo" in started, started + self.proc.stderr.read()
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def children(self) -> list[int]:
        pid = self.proc.pid
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(15)
        self.reader.join(5)
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code


def _client_server(ns: str) -> dict[str, float]:
    with subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SERVER], stdout=subprocess.PIPE,
                          text=True) as server:  # fmt: skip
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        client = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT], capture_output=True,
                                text=True, check=True, timeout=20)  # fmt: skip
        server.wait(10)
    return {w: float(t) for w, t in (line.split() for line in client.stdout.splitlines())}


def test_live_explain_tells_the_handshake_before_the_client_closes(netns: str) -> None:
    run = _Live(netns, "explain", "-i", "lo", "--port", "20000")
    time.sleep(0.3)  # tcpdump is listening once it says so; give the namespace's loopback a moment
    when = _client_server(netns)
    time.sleep(L.END_WAIT_S + 0.5)
    children = run.children()
    assert children, "tcptrace runs its capture child"
    code = run.interrupt()
    assert code == 130, run.stderr
    for pid in children:
        assert not Path(f"/proc/{pid}").exists(), "the capture child is gone after Ctrl-C"
    text = [line for _, line in run.lines]
    ack = next(t for t, line in run.lines if "The client acknowledges the SYN+ACK" in line)
    assert ack < when["closing"], "the handshake is told while the connection is open"
    assert ack - when["connected"] < 0.5
    data = next(t for t, line in run.lines if "The client sends 2 bytes" in line)
    assert data < when["closing"]
    assert any("Verdict: opened normally" in line for line in text)
    assert text[-1].endswith("TCP segments"), "the summary is printed after Ctrl-C"


def test_live_packets_lists_each_packet_as_it_comes(netns: str, tmp_path: Path) -> None:
    """packets -i: each packet is listed right after it was captured (the handshake long before the client
    sends), and --write keeps the capture for Wireshark: the same packets, read back from the file."""
    kept = tmp_path / "kept.pcap"
    run = _Live(netns, "packets", "-i", "lo", "--port", "20000", "--format", "jsonl", "--write", str(kept))
    time.sleep(0.3)
    when = _client_server(netns)
    time.sleep(0.3)
    assert run.interrupt() == 130
    recs = [(t, json.loads(line)) for t, line in run.lines]
    first_three = [t for t, r in recs[:3]]
    assert [r["flags"] for _, r in recs[:3]] == [["SYN"], ["SYN", "ACK"], ["ACK"]]
    # the client printed "connected" right after its handshake; the lines came within 100 ms of that, with room
    # for a loaded machine
    assert max(first_three) - when["connected"] < 0.3, [t - when["connected"] for t in first_three]
    r = CliRunner().invoke(main, ["packets", str(kept), "--format", "jsonl"])
    assert r.exit_code == 0
    assert [json.loads(x)["seq_raw"] for x in r.stdout.splitlines()] == [x["seq_raw"] for _, x in recs]


def test_live_check_with_duration_exits_as_for_a_file(netns: str) -> None:
    proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-m", "tcptrace", "check", "-i", "lo",
                             "--port", "20000", "--duration", "3", "--require", "handshake",
                             "--require", "graceful-close"], cwd=OUTSIDE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    assert "capturing on lo" in proc.stderr.readline()
    time.sleep(0.2)
    _client_server(netns)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, out + err
    assert "1 stream" in out


def test_the_capture_seam_runs_in_a_namespace(netns: str, tmp_path: Path) -> None:
    """What `tcptrace lab` calls: start_capture(..., netns=NS) from outside the namespace, narrate_live on its
    stream in a thread, child.stop() when the experiment is over; the story and the --write file are complete."""
    kept = tmp_path / "lab.pcap"
    lines: list[str] = []
    with L.start_capture("lo", "tcp port 20000", write=str(kept), netns=netns) as child:
        teller = threading.Thread(target=lambda: lines.append(str(L.narrate_live(child.stream, echo=lambda line,
                                  color=None: lines.append(line)))), daemon=True)  # fmt: skip
        teller.start()
        time.sleep(0.3)
        _client_server(netns)
        time.sleep(0.3)
        child.stop()
        teller.join(10)
    assert not teller.is_alive()
    assert child.proc.returncode is not None
    assert any("The client acknowledges the SYN+ACK" in line for line in lines)
    assert any("Verdict: opened normally" in line for line in lines)
    r = CliRunner().invoke(main, ["explain", str(kept)])
    assert r.exit_code == 0
    assert "closed by the client" in r.stdout


def test_a_missing_namespace_is_one_line() -> None:
    reason = _netns_skip_reason()
    if reason:
        pytest.skip(reason)
    with pytest.raises(L.LiveCaptureError, match="no network namespace named 'tcptrace-nosuch'"):
        L.start_capture("lo", netns="tcptrace-nosuch")


# --- the capture child's command line and last words (what `tcptrace lab` relies on), with stand-in tools --------


def _stand_in(bin_dir: Path, name: str, script: str) -> None:
    tool = bin_dir / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)


def test_capture_tool_command_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    tcpdump = L._tool_command("tcpdump", "/usr/bin/tcpdump", "lo", "tcp port 1", 128)
    assert tcpdump == ["/usr/bin/tcpdump", "-s", "128", "-Z", "root", "-i", "lo", "-B", "16384", "-U",
                       "--immediate-mode", "-n", "-w", "-", "tcp port 1"]  # fmt: skip
    assert L._tool_command("dumpcap", "/usr/bin/dumpcap", "lo", "tcp", 0) == [
        "/usr/bin/dumpcap", "-i", "lo", "-B", "16", "-q", "-w", "-", "-f", "tcp"]  # fmt: skip
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "-Z" not in L._tool_command("tcpdump", "tcpdump", "lo", None)  # only root's tcpdump changes user


NO_PERMISSION = 'echo "tcpdump: lo: You don\'t have permission to perform this capture on that device" >&2; exit 1\n'
DUMPCAP = """echo "$@" > "$(dirname "$0")/args"
echo "Capturing on 'lo'" >&2
trap 'echo "Packets captured: 10" >&2; echo "Packets received/dropped on interface '"'lo'"': 10/3" >&2; exit 0' TERM
printf 'pcap' ; while :; do sleep 0.05; done
"""


def test_dumpcap_when_tcpdump_may_not_capture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """tcpdump without permission, dumpcap with it (the wireshark group): start_capture runs dumpcap, once it has
    said it captures; its stream ends after stop(); the packets it dropped are read from its last words; a file
    object given as `write` gets every byte and is left open for its owner."""
    _stand_in(tmp_path, "tcpdump", NO_PERMISSION)
    _stand_in(tmp_path, "dumpcap", DUMPCAP)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    kept = (tmp_path / "kept").open("wb")
    with L.start_capture("lo", "tcp", write=kept, snaplen=128) as child:
        assert child.tool == "dumpcap"
        assert child.dropped() == 0  # not said yet
        child.stop()
        assert child.stream.read() == b"pcap"
        assert child.stream.read() == b""
    assert child.dropped() == 3
    assert child.problem() is None
    assert not kept.closed
    kept.close()
    assert (tmp_path / "kept").read_bytes() == b"pcap"
    assert (tmp_path / "args").read_text().split() == ["-s", "128", "-i", "lo", "-B", "16", "-q", "-w", "-", "-f",
                                                       "tcp"]  # fmt: skip


def test_when_no_tool_may_capture_one_line_says_each_ones_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _stand_in(tmp_path, "tcpdump", NO_PERMISSION)
    _stand_in(tmp_path, "dumpcap", NO_PERMISSION.replace("tcpdump: lo: You don't", "dumpcap: You don't"))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(L.LiveCaptureError) as err:
        L.start_capture("lo")
    msg = str(err.value)
    assert "tcpdump has no permission to capture on lo" in msg
    assert "; dumpcap has no permission to capture on lo" in msg
    assert "\n" not in msg
    # a reason another tool cannot help with (no such interface) is not tried again with it
    _stand_in(tmp_path, "tcpdump", "echo 'tcpdump: nosuch0: No such device exists' >&2; exit 1\n")
    with pytest.raises(L.LiveCaptureError, match=r"^no network interface named 'nosuch0' \(tcpdump: [^;]*$"):
        L.start_capture("nosuch0")
