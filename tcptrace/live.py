"""Live: capture through tcpdump or dumpcap and tell each connection's story while it happens.

Theory of operation. :func:`start_capture` runs tcpdump (or Wireshark's dumpcap) as a child process that writes a
pcap (pcapng for dumpcap) stream to a pipe, packet by packet (``-U --immediate-mode -w -``); no libpcap binding is
needed. Its stream is a :class:`LiveInput`: a readable that returns whatever bytes have come (never waits for a
full buffer), calls its idle callbacks every :data:`TICK_S` while nothing comes, tees every byte to ``--write``'s
file, and turns a stop request (Ctrl-C, ``--duration``) into the end of the input once the child has flushed and
exited. :class:`LiveInput` also follows a capture file that another program is still writing (``--follow``): at the
end of the file it waits for more, like ``tail -f``.

:func:`narrate_live` reads such a stream through the ordinary reader and pipeline (tcptrace.engine.Pipeline, the
pure-Python path, one segment at a time) and words each segment's event with the batch narrator's own pieces: the
classifier of :mod:`tcptrace.events` walking forward one segment at a time, the renderer, collapsing and catalogue
of :mod:`tcptrace.narrate` and :mod:`tcptrace.messages`. What differs from ``explain FILE`` is *when* a step is
printed, and so how much hindsight it has (docs/live.md):

* a step is printed as soon as its segment is read, except a SYN or a FIN that is the newest segment of its stream:
  it waits for the stream's next segment (which may show the port was closed, or that the FIN crossed data) or
  :data:`HOLD_S`, whichever comes first;
* ordinary data and ACKs are held while their run grows (a running line on a terminal says how far it has got);
  the run is told as one summary step, as in the batch story, when a notable step follows, or when the stream
  has been quiet for :data:`PAUSE_S` (a pause splits a run the batch story would tell as one);
* a stream's verdict is printed :data:`END_WAIT_S` after it has ended (both FINs acknowledged, or a reset), or at
  the end of the input; the overview and the frame count close the output.

Nothing here reads the terminal; the CLI gives :func:`narrate_live` its ``echo`` and ``status`` callbacks.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import json
import os
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import click

from .engine import HORIZON_NS, Pipeline, ended
from .errors import TcptraceError
from .events import Event, Note, refused, resolve_states
from .events import _Classifier as _BatchClassifier
from .messages import LANGUAGES
from .model import ACK, FIN, SYN, Segment
from .narrate import (
    _ORDER,
    _SECTION,
    _STYLE,
    COLLAPSE_MIN_RUN,
    Step,
    _collapse,
    _dur,
    _ending,
    _Renderer,
    overview_of_endings,
    render_overview_of,
)
from .output import display_path, give_to_sudo_user
from .selection import Selection
from .state import TcpState
from .stats import FlowSummary

TICK_S = 0.02  # how often a waiting read wakes up to run the idle callbacks (timers below, the running line)
HOLD_S = 0.2  # the longest a SYN or FIN waits for its stream's next segment (its hindsight)
PAUSE_S = 0.5  # a stream quiet this long has its held data and ACKs told
END_WAIT_S = 1.0  # a stream that has ended gets its verdict this long after (late copies and re-ACKs first)
STATUS_EVERY_S = 0.2  # the running line is rewritten at most this often
DRAIN_S = 2.0  # after a stop request, how long the child may take to flush and exit before the input ends
READY_S = 10.0  # how long start_capture waits for the tool to say it is capturing (or to fail)
READY_GRACE_S = {"tcpdump": 0.02, "dumpcap": 0.2}  # after it says so: a moment to fail (_wait_ready)
WRITER_CHECK_S = 0.5  # --follow: how often, at the end of the file, we look whether a writer still has it open


class LiveCaptureError(TcptraceError):
    """Live capture cannot start: no capture tool, no permission, no such interface or namespace (one line)."""


# --- the input: bytes as they come --------------------------------------------------------------------------


def _pipe_like(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


class LiveInput(io.RawIOBase):
    """A capture byte stream that is still being written: a pipe (a capture child, ``tcpdump -U -w - |``), or a
    file another program appends to (``follow=True``).

    ``read(n)`` (and ``read1``) return what has come, at least one byte unless the input has ended, so the reader
    analyses each packet as it arrives. While nothing comes the idle callbacks run every ``tick_s``. The input
    ends at the pipe's end; a followed file ends on :meth:`request_stop`, after ``idle_s`` without growth, or once
    no process has it open for writing any more (Linux /proc; when that cannot be seen, only the first two).
    ``tee``: a binary file that gets every byte read (``--write``), flushed as it goes.
    """

    def __init__(
        self,
        source: BinaryIO | int,
        *,
        name: str = "<live>",
        follow: bool = False,
        path: str | None = None,
        tee: BinaryIO | None = None,
        idle_s: float | None = None,
        duration_s: float | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        super().__init__()
        self.name = name
        self._file: BinaryIO | None = None if isinstance(source, int) else source
        fd: int | None = source if isinstance(source, int) else None
        if fd is None:
            with contextlib.suppress(AttributeError, OSError, ValueError, io.UnsupportedOperation):
                fd = source.fileno()  # type: ignore[union-attr]
        self._fd = fd
        # poll with select only where a read could block: a pipe, a socket, a terminal
        self._poll = fd is not None and not follow and _pipe_like(fd)
        self._follow = follow
        self._path = path
        self._tee = tee
        self._idle_s = idle_s
        self._tick = tick_s
        now = time.monotonic()
        self._deadline = None if duration_s is None else now + duration_s
        self._last_data = now
        self._next_writer_check = 0.0
        self._drain_until: float | None = None
        self._idle_callbacks: list[Callable[[], None]] = []
        self._stop_callbacks: list[Callable[[], None]] = []
        self.stopped = False  # a stop was requested
        self.reason: str | None = None  # why the input ended early: interrupt, duration, idle, writer
        self.error: BaseException | None = None  # raised by an idle callback; re-raised by narrate_live
        self.bytes_read = 0
        self._pushback = b""

    live = True  # the capture reader hands out what it has decoded after every read (capture._from_pipe)

    # --- hooks ---

    def on_idle(self, callback: Callable[[], None]) -> None:
        self._idle_callbacks.append(callback)

    def on_stop(self, callback: Callable[[], None]) -> None:
        self._stop_callbacks.append(callback)

    def request_stop(self, reason: str = "interrupt") -> None:
        """End the input: the capture child is told to stop (its last packets still come), a followed file ends
        at once. Safe to call from a signal handler."""
        if self.stopped:
            return
        self.stopped = True
        self.reason = reason
        self._drain_until = time.monotonic() + (DRAIN_S if self._stop_callbacks else 0.5)
        for cb in self._stop_callbacks:
            cb()

    # --- io.RawIOBase ---

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        """What has come, up to ``n`` bytes (at least one unless the input has ended): no buffer of ``n`` bytes is
        made for a read that returns a packet."""
        return self._next(n if n is not None and n > 0 else 1 << 20)

    def readinto(self, b: Any) -> int:
        data = self._next(len(b))
        n = len(data)
        b[:n] = data
        return n

    def read1(self, n: int = -1) -> bytes:
        return self.read(n)

    def _idle(self) -> bool:
        """Run the idle callbacks; False when one failed (its error is kept and the input ends)."""
        try:
            for cb in self._idle_callbacks:
                cb()
        except Exception as exc:  # e.g. stdout gone: ends the input; narrate_live raises it again
            self.error = exc
            return False
        return True

    def peek(self, n: int) -> bytes:
        """The first ``n`` bytes (fewer at the end), kept to be read again."""
        while len(self._pushback) < n:
            more = self._next(n - len(self._pushback))
            if not more:
                break
            self._pushback += more
        return self._pushback[:n]

    def _next(self, n: int) -> bytes:
        if self._pushback:
            data, self._pushback = self._pushback[:n], self._pushback[n:]
            return data
        while True:
            now = time.monotonic()
            if self._drain_until is not None and now >= self._drain_until:
                return b""
            if self._deadline is not None and now >= self._deadline and not self.stopped:
                self.request_stop("duration")
                continue
            if self.error is not None:
                return b""
            if self._poll:
                assert self._fd is not None
                ready, _, _ = select.select([self._fd], [], [], self._tick)
                if not ready:
                    if not self._idle():
                        return b""
                    continue
                data = os.read(self._fd, n)
            elif self._file is not None:
                read1 = getattr(self._file, "read1", None)
                data = read1(n) if read1 is not None else self._file.read(n)
            else:
                assert self._fd is not None
                data = os.read(self._fd, n)
            if data:
                self._last_data = now
                self.bytes_read += len(data)
                if self._tee is not None:
                    self._tee.write(data)
                    self._tee.flush()
                return data
            if not self._follow or self.stopped:
                return b""
            # a followed file at its current end: wait for more, like tail -f
            if self._idle_s is not None and now - self._last_data >= self._idle_s:
                self.reason = "idle"
                return b""
            if self._path is not None and now >= self._next_writer_check:
                self._next_writer_check = now + WRITER_CHECK_S
                if file_writers(self._path) == 0:
                    self.reason = "writer"
                    return b""
            if not self._idle():
                return b""
            time.sleep(self._tick)


def file_writers(path: str) -> int | None:
    """How many other processes have ``path`` open for writing (Linux /proc), or None when that cannot be seen
    (no /proc, or every process's descriptors hidden from us)."""
    try:
        target = os.stat(path)
    except OSError:
        return 0
    proc = "/proc"
    if not os.path.isdir(proc):
        return None
    me = os.getpid()
    writers = 0
    seen_any = False
    for pid in os.listdir(proc):
        if not pid.isdigit() or int(pid) == me:
            continue
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        seen_any = True
        for fd in fds:
            try:
                st = os.stat(f"{fd_dir}/{fd}")
                if (st.st_dev, st.st_ino) != (target.st_dev, target.st_ino):
                    continue
                with open(f"{proc}/{pid}/fdinfo/{fd}") as info:
                    flags = next((int(ln.split()[1], 8) for ln in info if ln.startswith("flags:")), 0)
            except (OSError, ValueError, IndexError):
                continue
            if flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                writers += 1
    return writers if seen_any else None


RECENT_S = 60.0  # a capture on standard input whose first packet is this recent is taken as live


def stdin_source() -> tuple[LiveInput, bool] | None:
    """Standard input when it is a pipe: (its LiveInput, whether it is live: its first packet was captured within
    :data:`RECENT_S` of now, as from ``tcpdump -U -w - |``). None for a file or a terminal (read as usual)."""
    import sys

    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    if os.isatty(fd) or not _pipe_like(fd):
        return None
    live = LiveInput(fd, name="<stdin>")
    ts = first_timestamp(live)
    return live, ts is not None and abs(time.time() - ts) <= RECENT_S


def first_timestamp(live: LiveInput, limit: int = 1 << 16) -> float | None:
    """The time (Unix seconds) of the first packet of a pcap or pcapng stream, read ahead and kept (None: not
    found in the first ``limit`` bytes, or a compressed stream)."""
    head = live.peek(40)
    if len(head) < 4:
        return None
    for order in "<>":
        for magic, unit in ((0xA1B2C3D4, 1e6), (0xA1B23C4D, 1e9), (0xA1B2CD34, 1e6)):
            if head[:4] == struct.pack(order + "I", magic):
                if len(head) < 32:
                    return None
                sec, frac = struct.unpack_from(order + "II", head, 24)
                return float(sec + frac / unit)
    if head[:4] != b"\x0a\x0d\x0d\x0a" or len(head) < 12:
        return None
    bom = head[8:12]
    order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else ""
    if not order:
        return None
    at = 0
    while at + 20 <= limit:
        buf = live.peek(at + 20)
        if len(buf) < at + 20:
            return None
        btype, blen = struct.unpack_from(order + "II", buf, at)
        if btype in (3, 6):  # an (obsolete or enhanced) packet block: microseconds unless if_tsresol says more
            high, low = struct.unpack_from(order + "II", buf, at + 12)
            ticks = (high << 32) | low
            now = time.time()
            return float(min((ticks / 1e6, ticks / 1e9), key=lambda t: abs(now - t)))
        if blen < 12 or blen % 4:
            return None
        at += blen
    return None


# --- the capture child ---------------------------------------------------------------------------------------

TOOLS = ("tcpdump", "dumpcap")


def _tool_command(tool: str, path: str, iface: str, bpf: str | None, snaplen: int = 0) -> list[str]:
    """The tool's command line: the capture on standard output, each packet as it comes. ``snaplen``: bytes kept
    of each packet (0: the tool's default, whole packets)."""
    if tool == "tcpdump":
        # -U: write each packet as it comes; --immediate-mode: libpcap hands packets over at once (without it,
        # TPACKET_V3 delivers a block at a time, up to tcpdump's 1 s timeout late).
        # -B: a 16 MiB kernel buffer (tcpdump counts KiB), not the default 2: with offloads on (no ethtool) a burst
        # of 64 KB super-segments overflows 2 MiB before tcpdump has read it (the zero_window lab did).
        cmd = [path, "-i", iface, "-B", "16384", "-U", "--immediate-mode", "-n", "-w", "-"]
        if os.geteuid() == 0:
            # as root tcpdump switches to its own user after opening the interface, a user some systems do not
            # have; with -w - the file is our pipe, so nothing is written with root's rights
            cmd[1:1] = ["-Z", "root"]
    else:
        # dumpcap writes pcapng; -B counts MiB; -q: no packet counts on stderr while it runs
        cmd = [path, "-i", iface, "-B", "16", "-q", "-w", "-"]
    if snaplen:
        cmd[1:1] = ["-s", str(snaplen)]
    if not bpf:
        return cmd
    return [*cmd, bpf] if tool == "tcpdump" else [*cmd, "-f", bpf]


_READY = re.compile(r"listening on|Capturing on", re.IGNORECASE)


def _explain_failure(tool: str, iface: str, netns: str | None, text: str) -> str:
    """The one line saying why the tool could not capture, from what it printed."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # the first line that says something: not a warning, nor the tool's "Capturing on" before it found it may not
    said = next((ln for ln in lines if "warning" not in ln.lower() and not _READY.search(ln)),
                lines[-1] if lines else "")  # fmt: skip
    said = said.removeprefix(f"{tool}: ")[:200]
    low = text.lower()
    where = f" in network namespace {netns}" if netns else ""
    if "cannot open network namespace" in low or ("no such file or directory" in low and netns and "netns" in low):
        return f"no network namespace named {netns!r} (`ip netns list` shows them): {said}"
    if "permission" in low or "not permitted" in low:
        fix = "run it as root (sudo), or allow unprivileged capture: `sudo setcap cap_net_raw,cap_net_admin=eip "
        fix += f"$(command -v {tool})`"
        if tool == "dumpcap":
            fix += " or add yourself to the wireshark group"
        return f"{tool} has no permission to capture on {iface}{where}: {fix} ({said})"
    if "no such device" in low or "doesn't exist" in low or "no device" in low or "there is no" in low:
        return f"no network interface named {iface!r}{where} ({tool}: {said})"
    return f"{tool} could not capture on {iface}{where}: {said or 'it exited at once'}"


class CaptureChild:
    """A running capture tool. ``stream`` is its :class:`LiveInput`; :meth:`stop` asks it to finish (its last
    packets are still read); leaving the ``with`` block stops it and waits for it (killed if it hangs)."""

    def __init__(self, proc: subprocess.Popen[bytes], tool: str, iface: str, stream: LiveInput,
                 tee: BinaryIO | None, said: str) -> None:  # fmt: skip
        self.proc = proc
        self.tool = tool
        self.iface = iface
        self.stream = stream
        self._tee = tee  # ours to close (a --write path we opened); None when the caller owns the file
        self._stderr: collections.deque[str] = collections.deque(said.splitlines(), maxlen=20)
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        self._stopping = False
        stream.on_stop(self._terminate)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_stderr(self) -> None:
        """Keep the tool's stderr flowing (a full pipe would stop it), its last lines kept for :meth:`problem`
        and :meth:`dropped`."""
        assert self.proc.stderr is not None
        with contextlib.suppress(OSError, ValueError):
            for line in self.proc.stderr:
                self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def stop(self) -> None:
        """Ask the tool to finish: its last packets still come, then the stream ends (its ``reason``: "stop")."""
        self.stream.request_stop("stop")
        self._terminate()

    def _terminate(self) -> None:
        """SIGTERM to the tool's process group: tcpdump and dumpcap flush and exit."""
        self._stopping = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def close(self, timeout: float = DRAIN_S) -> None:
        self._stopping = True
        end_process_group(self.proc, timeout)
        self._drain.join(timeout)  # the tool's last words (its packet counts) are read before stderr is closed
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()
        if self._tee is not None:
            self._tee.close()
            give_to_sudo_user(self._tee.name)
            self._tee = None

    def problem(self) -> str | None:
        """Why the tool ended on its own, when it did (an interface that went away ...), else None."""
        code = self.proc.poll()
        if code is None or self._stopping or code == 0:
            return None
        said = [ln for ln in self._stderr if ln.strip()]
        return f"{self.tool} exited with status {code}" + (f": {said[-1].strip()}" if said else "")

    def dropped(self) -> int:
        """Packets the kernel dropped before the tool read them, as the tool said when it ended (0 until then):
        tcpdump's "N packets dropped by kernel", dumpcap's "Packets received/dropped on interface 'lo': R/D"."""
        for line in self._stderr:
            if m := _DROPPED.search(line):
                return int(m.group(1) or m.group(2))
        return 0

    def __enter__(self) -> CaptureChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def end_process_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """End a child started in a session of its own (``start_new_session``, so a terminal's Ctrl-C reaches only us):
    SIGTERM to its process group (``ip netns exec`` and what it runs, a tool's helpers), SIGKILL if it has not
    exited after ``timeout`` seconds; returns once it has been reaped."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


_DROPPED = re.compile(r"^(\d+) packets? dropped by kernel|received/dropped on interface .*: \d+/(\d+)")


def _installed_tools(tool: str | None = None) -> list[tuple[str, str]]:
    """(name, path) of each capture tool installed, in the order tried: ``tool`` only if given, else tcpdump,
    dumpcap. :class:`LiveCaptureError` when there is none."""
    names = (tool,) if tool else TOOLS
    found = []
    for name in names:
        path = shutil.which(name) or next(
            (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
        )
        if path:
            found.append((name, path))
    if found:
        return found
    if tool:
        raise LiveCaptureError(f"{tool} is not installed (live capture runs it as a child process)")
    raise LiveCaptureError("neither tcpdump nor dumpcap is installed: live capture runs one of them as a child "
                           "process (e.g. `sudo apt-get install tcpdump`)")  # fmt: skip


def find_tool(tool: str | None = None) -> tuple[str, str]:
    """(name, path) of the capture tool to run: ``tool`` if given, else tcpdump, else dumpcap."""
    return _installed_tools(tool)[0]


def start_capture(
    iface: str,
    bpf: str | None = None,
    *,
    write: str | os.PathLike[str] | BinaryIO | None = None,
    netns: str | None = None,
    tool: str | None = None,
    duration_s: float | None = None,
    snaplen: int = 0,
) -> CaptureChild:
    """Start capturing on ``iface`` (``bpf``: a capture filter, tcpdump syntax) and return the child whose
    ``.stream`` gives the capture's bytes as they come, once the tool has said it is capturing (no packet sent
    from then on is missed). ``write``: also keep every byte in this file (a path, opened and closed here, or a
    binary file the caller closes), to open in Wireshark afterwards. ``netns``: capture inside that network
    namespace (``ip netns exec``). ``duration_s``: the stream ends (the child is stopped) after this many seconds.
    ``snaplen``: bytes kept of each packet (0: whole packets). ``tool``: tcpdump or dumpcap; by default tcpdump,
    and dumpcap when tcpdump is not installed or may not capture here (dumpcap may, through the wireshark group).

    Raises :class:`LiveCaptureError` with one line when no tool is installed, when it may not capture (no
    permission), or when there is no such interface or namespace."""
    tools = _installed_tools(tool)
    prefix: list[str] = []
    if netns:
        ip = shutil.which("ip") or "/usr/sbin/ip"
        if not os.access(ip, os.X_OK):
            raise LiveCaptureError("capturing in a network namespace needs the `ip` command (iproute2)")
        prefix = [ip, "netns", "exec", netns]
    owned: BinaryIO | None = None  # a --write path: opened here, closed by CaptureChild.close
    sink: BinaryIO | None
    if isinstance(write, (str, os.PathLike)):
        try:
            owned = sink = open(write, "wb")  # noqa: SIM115
        except OSError as exc:
            raise LiveCaptureError(f"cannot write {display_path(write)}: {exc.strerror or exc}") from exc
    else:
        sink = write
    failures = []
    for name, path in tools:
        try:
            proc = subprocess.Popen([*prefix, *_tool_command(name, path, iface, bpf, snaplen)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    bufsize=0, start_new_session=True)  # fmt: skip
        except OSError as exc:
            failures.append(f"cannot run {name}: {exc.strerror or exc}")
            continue
        assert proc.stdout is not None
        assert proc.stderr is not None
        try:
            said = _wait_ready(proc, name)
        except BaseException:  # Ctrl-C while waiting: never leave the child running
            end_process_group(proc, 0)
            proc.stdout.close()
            proc.stderr.close()
            if owned is not None:
                owned.close()
            raise
        if proc.poll() is None:
            where = f"{name} -i {iface}" + (f" (netns {netns})" if netns else "")
            stream = LiveInput(proc.stdout.fileno(), name=where, tee=sink, duration_s=duration_s)
            return CaptureChild(proc, name, iface, stream, owned, said)
        rest = proc.stderr.read().decode("utf-8", "replace")
        proc.stdout.close()
        proc.stderr.close()
        failures.append(_explain_failure(name, iface, netns, said + rest))
        if "no permission" not in failures[-1]:  # only a permission another tool may have is worth a second try
            break
    if owned is not None:
        owned.close()
    raise LiveCaptureError("; ".join(failures))


def _wait_ready(proc: subprocess.Popen[bytes], tool: str) -> str:
    """What the tool wrote on stderr until it said it is capturing, exited, or :data:`READY_S` passed."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    got = b""
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            got += chunk
            if _READY.search(got.decode("utf-8", "replace")):
                break
        elif proc.poll() is not None:
            break
    if proc.poll() is None:
        # a moment for a tool that says it is capturing and then fails: tcpdump on a bad filter exits at once;
        # dumpcap says "Capturing on 'lo'" before it finds it may not
        time.sleep(READY_GRACE_S.get(tool, 0.2))
    return got.decode("utf-8", "replace")


def capture_filter(bpf: str | None, ports: tuple[int, ...] = ()) -> str:
    """The capture filter to give the tool: the user's ``-f`` as given, else TCP only, on the ``--port`` ports."""
    if bpf:
        return bpf
    if ports:
        return "tcp and (" + " or ".join(f"port {p}" for p in ports) + ")"
    return "tcp"


@contextlib.contextmanager
def stop_on_signals(live: LiveInput) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM end the input cleanly (the child is stopped, what it captured is still read
    and told); a second Ctrl-C interrupts at once (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if live.stopped and signum == signal.SIGINT:
            raise KeyboardInterrupt
        live.request_stop("interrupt" if signum == signal.SIGINT else "terminate")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# --- narration as the segments come ----------------------------------------------------------------------------


class _LiveClassifier(_BatchClassifier):
    """:class:`tcptrace.events._Classifier` fed one segment at a time. Its walk goes forward already; the facts it
    takes from the summary at the start (the handshake's round trips, the iRTT, the MSS, whether the SYN was
    refused) are read again before each new segment, as far as they are known by then."""

    def __init__(self, summary: FlowSummary, previous: FlowSummary | None) -> None:
        super().__init__(summary, [])
        self.previous = previous

    def push(self, seg: Segment) -> None:
        self._index[seg.frame] = len(self.segs)
        self.segs.append(seg)

    def refresh(self) -> None:
        s = self.s
        self.round_trips = self._handshake_round_trips()
        self.is_refused = refused(self.segs)
        fa = s.flow.analysis
        self.irtt = fa.ts_first_rtt if fa is not None else 0
        self.mss = [s.dirs[0].mss, s.dirs[1].mss]
        self.ts_on = s.dirs[0].timestamps and s.dirs[1].timestamps

    def event(self, seg: Segment, anomalies: list[str]) -> Event:
        e = self._event(seg)
        if anomalies:
            e = dataclasses.replace(e, notes=e.notes + tuple(Note("anomaly", {"text": a}) for a in anomalies),
                                    notable=True)  # fmt: skip
        self.events.append(e)
        return e


_ESTABLISHED = (TcpState.ESTABLISHED.value, TcpState.ESTABLISHED.value)


@dataclass
class _Open:
    """One stream being told."""

    stream: int
    summary: FlowSummary
    c: _LiveClassifier
    renderer: _Renderer
    pending: list[Segment] = field(default_factory=list)  # read, not classified yet (a SYN or FIN's hindsight)
    hold_until: float = 0.0
    buffer: list[tuple[Step, Event]] = field(default_factory=list)  # classified, held for collapsing/grouping
    buffer_at: float = 0.0
    base: int = 0  # resolve_states works on segs[base:], from `start`: the part since the last settled point
    start: tuple[TcpState, TcpState] | None = None
    number: int = 0  # steps printed
    top: int = -1  # the highest phase printed (phases do not go back)
    shown: set[str] = field(default_factory=set)
    malformed: int = 0
    first_ts: int | None = None
    last_ts: int = 0
    packets: int = 0
    ended_wall: float | None = None
    ended_ts: int | None = None


@dataclass
class LiveSummary:
    """What :func:`narrate_live` told: per stream (stream, ending, needs attention), the overview, the capture
    reader's stats, how many steps were printed, and why the input ended early (None: it ended)."""

    streams: list[tuple[int, str, bool]]
    overview: dict[str, Any]
    stats: Any
    steps: int
    stopped: str | None = None
    late: dict[int, int] = field(default_factory=dict)


class _Narrator:
    def __init__(
        self, *, lang: str, fmt: str, color: bool, verbose: bool, absolute: bool, selection: Selection,
        echo: Callable[..., Any], status: Callable[[str], None] | None,
    ) -> None:  # fmt: skip
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; available: {', '.join(LANGUAGES)}")
        if fmt not in ("text", "jsonl"):
            raise ValueError(f"unknown live format {fmt!r}; available: text, jsonl")
        self.lang, self.fmt, self.color, self.verbose, self.absolute = lang, fmt, color, verbose, absolute
        self.t = LANGUAGES[lang]
        self.selection = selection
        self.echo = echo
        self.status = status
        self.open: dict[int, _Open] = {}
        self.told: dict[int, tuple[int, str, bool]] = {}
        self.late: dict[int, int] = {}
        self.header_text: dict[int, str] = {}
        self.steps = 0
        self.last_stream: int | None = None
        self.status_shown = False
        self.status_at = 0.0
        self.last_tick = 0.0

    # --- output ---

    def _style(self, kind: str, s: str) -> str:
        return click.style(s, **_STYLE[kind]) if self.color else s

    def _line(self, text: str) -> None:
        if self.status_shown and self.status is not None:
            self.status("")
            self.status_shown = False
        self.echo(text, color=self.color if self.fmt == "text" else None)

    def _header(self, st: _Open) -> None:
        if self.last_stream == st.stream:
            return
        d = st.summary.to_dict(classic=False)
        guess = self.t["header.guess"] if st.summary.flow.roles_guessed else ""
        header = self.t["header"].format(stream=st.stream, client=d["client"], server=d["server"], guess=guess)
        self.header_text[st.stream] = header
        if self.fmt == "jsonl":
            self._line(json.dumps({"type": "flow", "stream": st.stream, "client": d["client"], "server": d["server"],
                                   "header": header}, ensure_ascii=False))  # fmt: skip
        else:
            if self.last_stream is not None:
                self._line("")
            self._line(self._style("header", header))
        self.last_stream = st.stream

    def _print(self, st: _Open, step: Step) -> None:
        rank = _ORDER[step.phase]
        if rank < st.top:
            step = dataclasses.replace(step, phase=next(p for p, r in _ORDER.items() if r == st.top))
        st.top = max(st.top, _ORDER[step.phase])
        st.number += 1
        self.steps += 1
        step = dataclasses.replace(step, number=st.number)
        self._header(st)
        if self.fmt == "jsonl":
            self._line(json.dumps({"type": "step", "stream": st.stream, **step.to_dict()}, ensure_ascii=False))
            return
        if step.phase not in st.shown:
            st.shown.add(step.phase)
            self._line(self._style("section", self.t[_SECTION[step.phase]]))
        label = f"[{step.frame_label(self.lang)}]"
        text = self._style("flag", step.text) if step.flags else step.text
        self._line(f"  {step.number:>2}. {self._style('dim', label)} {text}")

    # --- segments ---

    def add(self, seg: Segment, run: Any) -> None:
        n = seg.stream
        st = self.open.get(n)
        if st is None:
            if n in self.told:
                self.late[n] = self.late.get(n, 0) + 1
                return
            flow = run.flow(n)
            if not self.selection.matches(flow):
                return
            summary = flow.summary
            st = self.open[n] = _Open(n, summary, _LiveClassifier(summary, run.previous(n)),
                                      _Renderer(summary, self.lang, self.absolute))  # fmt: skip
        st.packets += 1
        if st.first_ts is None:
            st.first_ts = seg.ts_ns
        st.last_ts = seg.ts_ns
        now = time.monotonic()
        if seg.header_error:  # told at once with the states so far; takes no part in the rest (events.classify)
            self._commit(st, now)
            self._malformed(st, seg)
        else:
            st.c.push(seg)
            if seg.flags & FIN or seg.flags & (SYN | ACK) == SYN:
                # a FIN, or a SYN without ACK: what came before it is told now; it waits for what follows
                self._commit(st, now)
                st.pending.append(seg)
                st.hold_until = now + HOLD_S
            else:
                st.pending.append(seg)
                self._commit(st, now)
        if st.ended_ts is None and ended(st.summary):
            st.ended_ts, st.ended_wall = seg.ts_ns, now
        self._due(seg.ts_ns)
        if now - self.last_tick >= TICK_S:
            self.tick()

    def _malformed(self, st: _Open, seg: Segment) -> None:
        last = st.c.events[-1] if st.c.events else None
        states = (last.client_state, last.server_state) if last is not None else ("UNKNOWN", "UNKNOWN")
        seg.client_state, seg.server_state = states
        facts = {"error": seg.header_error, "hdr_len": seg.hdr_len, "seq": seg.seq, "seq_raw": seg.seq_raw,
                 "ack": seg.ack, "ack_raw": seg.ack_raw, "len": seg.len}  # fmt: skip
        e = Event("malformed", seg.frame, seg.direction, seg.phase, states[0], states[1], facts)
        self._step(st, st.renderer.step(e), e, time.monotonic())

    def _commit(self, st: _Open, now: float) -> None:
        """Classify the pending segments (their states resolved with what has come so far) and step them."""
        if not st.pending:
            return
        c = st.c
        part = c.segs[st.base :]
        anomalies: dict[int, list[str]] = {}
        for a in resolve_states(part, st.start):
            anomalies.setdefault(a.frame, []).append(a.message)
        c.refresh()
        pending, st.pending = st.pending, []
        for seg in pending:
            e = c.event(seg, anomalies.get(seg.frame, []))
            self._step(st, st.renderer.step(e, None if self.verbose or e.notable else ""), e, now)
        s = st.summary
        last = c.segs[-1]
        if (last.client_state, last.server_state) == _ESTABLISHED and s.handshake_done and not s.fin_frames \
                and not s.rst:  # fmt: skip
            # a settled point (PacketStream's): both ESTABLISHED, no FIN or RST: nothing later re-reads it
            st.base = len(c.segs)
            st.start = (TcpState.ESTABLISHED, TcpState.ESTABLISHED)

    def _step(self, st: _Open, step: Step, e: Event, now: float) -> None:
        if self.verbose:
            self._print(st, step)
            return
        st.buffer.append((step, e))
        st.buffer_at = now
        if step.notable and not step.group:
            self._flush(st)

    def _flush(self, st: _Open) -> None:
        """Tell the held steps: runs of ordinary ones collapsed, duplicate ACKs merged (narrate._collapse)."""
        if not st.buffer:
            return
        held, st.buffer = st.buffer, []
        steps = [s for s, _ in held]
        event_of = {id(s): e for s, e in held}
        c = st.c
        segs_by_frame = {s.frames[0]: c.segs[c._index[s.frames[0]]] for s in steps if s.frames[0] in c._index}
        for out in _collapse(steps, self.lang, segs_by_frame):
            if id(out) in event_of and not out.text:
                out = dataclasses.replace(out, text=st.renderer.render(event_of[id(out)]))
            self._print(st, out)

    def _running(self) -> None:
        """The running line (a terminal only): the longest run of held data and ACKs, worded as its summary."""
        if self.status is None:
            return
        best: tuple[int, _Open] | None = None
        for st in self.open.values():
            if len(st.buffer) >= COLLAPSE_MIN_RUN and (best is None or len(st.buffer) > best[0]):
                best = (len(st.buffer), st)
        if best is None:
            return
        st = best[1]
        c = st.c
        steps = [s for s, _ in st.buffer if not s.notable and s.kind in ("data", "ack")]
        if len(steps) < COLLAPSE_MIN_RUN:
            return
        segs_by_frame = {s.frames[0]: c.segs[c._index[s.frames[0]]] for s in steps}
        summary = _collapse(steps, self.lang, segs_by_frame)[0]
        label = summary.frame_label(self.lang)
        self.status(self.t["live.so_far"].format(stream=st.stream, frames=label, text=summary.text))
        self.status_shown = True

    # --- time ---

    def _due(self, ts_ns: int) -> None:
        """Streams that ended long enough ago in capture time (another stream's packets keep the clock going)."""
        for st in [s for s in self.open.values() if s.ended_ts is not None and ts_ns - s.ended_ts >= HORIZON_NS]:
            self._end(st)

    def tick(self) -> None:
        """The timers: held SYNs and FINs, quiet streams' held runs, ended streams' verdicts, the running line."""
        now = time.monotonic()
        self.last_tick = now
        for st in list(self.open.values()):
            if st.pending and now >= st.hold_until:
                self._commit(st, now)
            if st.buffer and now - st.buffer_at >= PAUSE_S:
                self._flush(st)
            if st.ended_wall is not None and now - st.ended_wall >= END_WAIT_S:
                self._end(st)
        if self.status is not None and now - self.status_at >= STATUS_EVERY_S:
            self.status_at = now
            self._running()

    def _end(self, st: _Open) -> None:
        """Tell what is left of a stream, its end notes (an unanswered SYN, CLOSE_WAIT left open) and verdict."""
        now = time.monotonic()
        self._commit(st, now)
        c = st.c
        before = len(c.events)
        if c.segs:
            c.finish()
        for e in c.events[before:]:
            self._step(st, st.renderer.step(e), e, now)
        self._flush(st)
        del self.open[st.stream]
        d = st.summary.to_dict(classic=False)
        ending, attention = _ending(d)
        self.told[st.stream] = (st.stream, ending, attention)
        verdict = self.t["verdict"].format(verdict=st.summary.sentence(self.lang))
        sub = self.t["header.duration"].format(packets=st.packets, duration=_dur(st.last_ts - (st.first_ts or 0)))
        self._header(st)
        if self.fmt == "jsonl":
            self._line(json.dumps({"type": "end", "stream": st.stream, "verdict": verdict, "subheader": sub,
                                   "summary": d}, ensure_ascii=False, default=str))  # fmt: skip
        else:
            self._line(f"  {sub}{self.t['sep.sentence']}{verdict}")

    def finish(self, stats: Any, stopped: str | None) -> LiveSummary:
        for n in sorted(self.open):
            self._end(self.open[n])
        for n, count in sorted(self.late.items()):  # after a stream's verdict: said once, as batch explain says it
            late = self.t["late"].format(n=count, horizon=_dur(int(END_WAIT_S * 1e9)))
            if self.fmt == "jsonl":
                self._line(json.dumps({"type": "late", "stream": n, "segments": count, "text": late},
                                      ensure_ascii=False))  # fmt: skip
            else:
                self._line("")
                self._line(self._style("header", self.header_text[n]))
                self._line(f"  {late}")
        endings = [self.told[n] for n in sorted(self.told)]
        overview = overview_of_endings(endings)
        footer = self.t["footer"].format(frames=f"{stats.frames:,}", segments=f"{stats.tcp_segments:,}")
        if self.fmt == "jsonl":
            self._line(json.dumps({"type": "summary", "overview": overview, "stats": stats.as_dict(),
                                   "stopped": stopped}, ensure_ascii=False, default=str))  # fmt: skip
        else:
            if endings:
                self._line("")
                if len(endings) > 1:
                    self._line(render_overview_of(overview, self.lang))
            self._line(footer)
        return LiveSummary(endings, overview, stats, self.steps, stopped, dict(self.late))


def narrate_live(
    stream: BinaryIO | LiveInput,
    *,
    lang: str = "en",
    fmt: str = "text",
    color: bool = False,
    verbose: bool = False,
    absolute: bool = False,
    selection: Selection | None = None,
    echo: Callable[..., Any] = click.echo,
    status: Callable[[str], None] | None = None,
) -> LiveSummary:
    """Read a pcap or pcapng byte stream as it comes and tell each connection's steps as soon as they are known
    (module docstring): ``echo(line)`` gets each line (``fmt="text"``, as ``explain`` words it, or ``"jsonl"``:
    one JSON object per step, per stream header and end, and a last summary object); ``status(text)``, when given
    (a terminal), gets the running line of a long transfer ("" to clear it). At the end of the stream (or a stop)
    what is held is told, each stream's verdict, the overview and the frame count; the :class:`LiveSummary` is
    returned. ``stream`` may be a :class:`LiveInput` (a capture child's, a followed file) or any binary file
    object (a pipe is polled, so the timers run while it is quiet)."""
    live = stream if isinstance(stream, LiveInput) else LiveInput(stream, name=str(getattr(stream, "name", "<live>")))
    narrator = _Narrator(lang=lang, fmt=fmt, color=color, verbose=verbose, absolute=absolute,
                         selection=selection or Selection(), echo=echo, status=status)  # fmt: skip
    live.on_idle(narrator.tick)
    run = Pipeline(live)
    add = narrator.add
    for seg in run:
        add(seg, run)
        if live.error is not None:
            break
    if live.error is not None:
        raise live.error
    return narrator.finish(run.stats, live.reason if live.stopped or live.reason else None)


__all__ = [
    "CaptureChild",
    "LiveCaptureError",
    "LiveInput",
    "LiveSummary",
    "capture_filter",
    "file_writers",
    "find_tool",
    "narrate_live",
    "start_capture",
    "stop_on_signals",
]
