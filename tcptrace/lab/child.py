"""The capture child of ``tcptrace lab``: tcpdump (or dumpcap) writing a pcap stream to our pipe.

Kept to the shape of ``tcptrace.live.start_capture`` (issue #17's live capture, written elsewhere) so that the
lab can switch to it by changing one import: :func:`start_capture` returns a context manager whose ``.stream`` is
the capture as a binary stream (a copy of every byte read goes to ``write``), ``.stop()`` ends the child and
leaves the stream to be read to its end, and failures raise :class:`LiveCaptureError`.

The child runs with ``-U`` (tcpdump: flush after every packet; dumpcap writes each packet as it comes) and
``--immediate-mode`` (no kernel buffer timeout), so every packet reaches the pipe within milliseconds, and is
started in the lab's namespace through ``ip netns exec`` (which execs the program, so the signal we send reaches
it). Before returning, :func:`start_capture` waits for the child's own "listening on" line: from then on no
packet is missed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from types import TracebackType
from typing import IO, BinaryIO

from ..errors import TcptraceError

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
START_GRACE_S = 0.2


class LiveCaptureError(TcptraceError):
    """The capture program is missing, may not capture here, or died."""


def capture_tool(tool: str | None = None) -> str:
    """The capture program to run: ``tool`` if given, else tcpdump, else dumpcap (LiveCaptureError: neither)."""
    for name in [tool] if tool else ["tcpdump", "dumpcap"]:
        if shutil.which(name):
            return name
    wanted = tool or "tcpdump or dumpcap"
    raise LiveCaptureError(f"{wanted} not found: install it (apt-get install tcpdump)")


def capture_argv(tool: str, iface: str, bpf: str | None, snaplen: int = 0) -> list[str]:
    """The command line: the capture as pcap (tcpdump) or pcapng (dumpcap) on standard output."""
    if os.path.basename(tool) == "dumpcap":
        argv = [tool, "-i", iface, "-s", str(snaplen or 262144), "-B", "16", "-q", "-w", "-"]
        return [*argv, "-f", bpf] if bpf else argv
    # -Z root: as root, tcpdump would otherwise switch to its own user after opening the interface, which some
    # systems do not have; with -w - the file is our pipe, so nothing is written with root's rights.
    # -B: a 16 MiB kernel buffer (tcpdump counts KiB, dumpcap MiB), not the default 2: with offloads on (no
    # ethtool) a burst of 64 KB super-segments overflows 2 MiB before tcpdump has read it (zero_window did)
    argv = [tool, "-i", iface, "-s", str(snaplen), "-B", "16384", "-U", "--immediate-mode", "-n", "-w", "-"]
    if os.geteuid() == 0:
        argv[1:1] = ["-Z", "root"]
    return [*argv, bpf] if bpf else argv


class _Tee:
    """A binary stream that copies what is read from ``raw`` into ``copy``."""

    def __init__(self, raw: IO[bytes], copy: BinaryIO | None) -> None:
        self.raw, self.copy = raw, copy

    def read(self, n: int = -1) -> bytes:
        # read1: what the pipe has now (up to n), not n bytes at the cost of waiting for more packets
        data = self.raw.read() if n is None or n < 0 else self.raw.read1(n)  # type: ignore[attr-defined]
        if self.copy is not None and data:
            self.copy.write(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()  # the copy belongs to the caller, who closes it


class CaptureChild:
    """A running capture program; a context manager that always stops it."""

    def __init__(self, argv: list[str], write: BinaryIO | None) -> None:
        self.argv = argv
        # A session of its own: the terminal's Ctrl-C reaches only us, and we stop the child in our own time
        # (after the programs, so the last packets are in).
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True
        )
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.stream: _Tee = _Tee(self.proc.stdout, write)
        self.messages: list[str] = []
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read_messages, args=(self.proc.stderr,), daemon=True)
        self._reader.start()

    def _read_messages(self, err: IO[bytes]) -> None:
        for raw in err:
            line = raw.decode("utf-8", "replace").rstrip()
            self.messages.append(line)
            if "listening on " in line or line.startswith("Capturing on"):
                self._started.set()
        self._started.set()  # the child ended: stop waiting

    def wait_started(self, timeout: float = START_TIMEOUT_S) -> None:
        started = self._started.wait(timeout)
        if started and self.proc.poll() is None:
            # dumpcap says "Capturing on 'lo'" before it finds it may not: a moment for it to fail
            time.sleep(START_GRACE_S)
        if not started or self.proc.poll() is not None:
            self.stop()
            said = "; ".join(m for m in self.messages if m) or f"exit status {self.proc.returncode}"
            raise LiveCaptureError(f"{os.path.basename(self.argv[self._tool_index()])} could not capture: {said}")

    def _tool_index(self) -> int:
        # `ip netns exec NS tcpdump ...`: the tool is the word after the namespace
        return 4 if self.argv[:3] == ["ip", "netns", "exec"] else 0

    def stop(self) -> None:
        """End the child (SIGINT: tcpdump and dumpcap write out what they have), never hanging."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(2)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=STOP_TIMEOUT_S)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()

    def dropped(self) -> int:
        """Packets the kernel dropped before the child read them (tcpdump's "N packets dropped by kernel")."""
        for line in self.messages:
            words = line.split()
            if line.endswith("dropped by kernel") and words[0].isdigit():
                return int(words[0])
        return 0

    def __enter__(self) -> CaptureChild:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        self.stream.close()


def start_capture(
    iface: str,
    bpf: str | None = None,
    *,
    write: BinaryIO | None = None,
    netns: str | None = None,
    tool: str | None = None,
    snaplen: int = 0,
) -> CaptureChild:
    """Start capturing on ``iface`` (in namespace ``netns`` if given) and return once the child captures."""
    argv = capture_argv(capture_tool(tool), iface, bpf, snaplen)
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    child = CaptureChild(argv, write)
    try:
        child.wait_started()
    except BaseException:  # Ctrl-C while waiting, too: never leave the child running
        child.stop()
        child.stream.close()
        raise
    return child
