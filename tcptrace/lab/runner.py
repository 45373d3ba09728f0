"""Run a lab: make the network, start the capture, run the programs, stop, tell the story, clean up.

The order is fixed so no packet is missed and nothing is left behind: the network (and the lab's rules), then the
capture (its child says it is listening before anything is sent), then the server (polled with ``ss`` until it
listens), then each client (the next one once the previous one is connected); when the clients have exited and
the server too, a short pause lets the last packets reach the capture, and the capture child is stopped.
Every process we started is ended and the namespaces are deleted in ``finally`` blocks, so an error or Ctrl-C in
any step leaves nothing running.

The capture child is live capture's (:func:`tcptrace.live.start_capture`, run in the lab's namespace), and the
story is told while the experiment runs: :func:`narrate` reads the child's stream in a thread of its own through
:func:`tcptrace.live.narrate_live`, so each step appears among the programs' output lines as it happens. The
library never prints: every line goes to the ``echo`` callback the caller gives (the CLI's ``click.echo``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import OutputError
from ..live import (
    CaptureChild,
    LiveCaptureError,
    LiveInput,
    LiveSummary,
    capture_filter,
    end_process_group,
    narrate_live,
    start_capture,
)
from ..output import display_path, give_to_sudo_user, replacing
from .labs import HEADER, Lab, title
from .network import HostLoopback, LabError, PrivateNetwork, can_make_namespaces, run_rule

PROGRAMS = Path(__file__).resolve().parent / "programs"
LISTEN_TIMEOUT_S = 10.0
PROGRAM_TIMEOUT_S = 60.0
# After the last program has exited: the peer's last ACK is on its way (the capture is on one side of the pair).
LINGER_S = 0.5

Echo = Callable[[str], None]


def narrate(
    stream: LiveInput,
    *,
    lang: str,
    color: bool,
    verbose: bool,
    echo: Echo,
    status: Callable[[str], None] | None = None,
) -> LiveSummary:
    """Tell the story of the lab's capture as it comes (:func:`tcptrace.live.narrate_live`), each line to
    ``echo`` with its newline; ``status`` (a terminal) gets the running line of a long transfer."""
    return narrate_live(stream, lang=lang, color=color, verbose=verbose,
                        echo=lambda line, color=None: echo(line + "\n"), status=status)  # fmt: skip


@dataclass
class LabRun:
    """What happened: each program's exit status and output lines, packets the capture missed."""

    lab: Lab
    exits: dict[str, int | None] = field(default_factory=dict)
    dropped: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [f"{who} exited with status {code}" for who, code in self.exits.items() if code != 0]


class _Programs:
    """The programs we started, each with a thread echoing its output lines; all ended on close."""

    def __init__(self, echo: Echo, labels: dict[str, str] | None = None) -> None:
        self.echo = echo
        self.labels = labels or {}  # "server", "client" -> the word its output lines are labelled with
        self.started: list[tuple[str, subprocess.Popen[bytes], threading.Thread]] = []

    def start(self, who: str, argv: list[str]) -> subprocess.Popen[bytes]:
        try:
            # a session of its own: Ctrl-C at the terminal reaches us only, and we end the programs (no traceback
            # of theirs among the story's lines)
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise LabError(f"cannot start the {who} program ({argv[0]}): {exc.strerror or exc}") from exc
        thread = threading.Thread(target=self._lines, args=(who, proc), daemon=True)
        thread.start()
        self.started.append((who, proc, thread))
        return proc

    def _lines(self, who: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.echo(f"  {self.labels.get(who, who)} | {raw.decode('utf-8', 'replace').rstrip()}\n")

    def wait(self, proc: subprocess.Popen[bytes], timeout: float) -> int | None:
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        for _, proc, thread in self.started:
            end_process_group(proc, 2)
            thread.join(timeout=2)
            if proc.stdout is not None:
                proc.stdout.close()


def _fill(words: Sequence[str], host: str, port: int) -> list[str]:
    return [w.replace("{host}", host).replace("{port}", str(port)) for w in words]


def _program_argv(words: Sequence[str], programs: Path, host: str, port: int) -> list[str]:
    """``python PROGRAM args``: PROGRAM from the lab's programs unless it is a path of its own."""
    program = Path(words[0]) if os.sep in words[0] or Path(words[0]).is_absolute() else programs / words[0]
    return [sys.executable, str(program), *_fill(words[1:], host, port)]


def _network(lab: Lab) -> PrivateNetwork | HostLoopback:
    missing = can_make_namespaces()
    if not missing:
        return PrivateNetwork()
    if lab.rules:
        raise LabError(
            f"lab {lab.name} changes the network ({', '.join(lab.needs) or 'sysctl'} rules in a private network "
            f"namespace), which needs {missing}: run it with sudo"
        )
    return HostLoopback()


@contextlib.contextmanager
def _written(write: str | os.PathLike[str] | None) -> Iterator[BinaryIO | None]:
    if write is None:
        yield None
        return
    stack = contextlib.ExitStack()
    try:
        f = stack.enter_context(replacing(write))
    except OSError as exc:  # no such directory, not writable: one line, before anything runs
        raise OutputError(f"cannot write {display_path(write)}: {exc.strerror or exc}") from exc
    with stack:
        yield f
    give_to_sudo_user(write)


def run_lab(
    lab: Lab,
    *,
    echo: Echo,
    lang: str = "en",
    write: str | os.PathLike[str] | None = None,
    color: bool = False,
    verbose: bool = False,
    programs: Path = PROGRAMS,
    tool: str | None = None,
    status: Callable[[str], None] | None = None,
) -> LabRun:
    """Run ``lab``, echo its programs' output and the story of its capture as it happens; keep the capture in
    ``write``. ``status`` (a terminal): the running line of a long transfer, rewritten in place ("" clears it)."""
    for need in lab.needs:
        if not shutil.which(need):
            raise LabError(f"lab {lab.name} needs {need}: install it (apt-get install {need})")
    net = _network(lab)
    result = LabRun(lab)
    lock = threading.Lock()
    shown = False  # the running line is on the terminal: cleared before any other line

    def said(text: str) -> None:
        nonlocal shown
        with lock:
            if shown and status is not None:
                status("")
                shown = False
            echo(text)

    def running(text: str) -> None:
        nonlocal shown
        with lock:
            assert status is not None
            status(text)
            shown = bool(text)

    with _written(write) as copy, net:  # a --write that cannot be written fails before anything is made
        if isinstance(net, PrivateNetwork):
            for rule in lab.rules:
                run_rule(net, rule.side, _fill(rule.argv, net.server_addr, lab.port), rule.optional)
        host, port = net.server_addr, lab.port
        side = lab.capture_on
        words = HEADER.get(lang, HEADER["en"])
        where = words["namespace"].format(ns=net.ns(side)) if isinstance(net, PrivateNetwork) else words["host"]
        said(words["header"].format(name=lab.name, title=title(lab, lang), host=host, port=port,
                                    iface=net.iface(side), where=where))  # fmt: skip
        bpf = None if isinstance(net, PrivateNetwork) else capture_filter(None, (port,))  # the host has other traffic
        child = _capture(net, side, bpf, copy, tool, lab.snaplen)
        errors: list[BaseException] = []

        def tell() -> None:
            try:
                narrate(child.stream, lang=lang, color=color, verbose=verbose, echo=said,
                        status=running if status is not None else None)  # fmt: skip
            except BaseException as exc:  # shown by the main thread
                errors.append(exc)

        # the story is told while the programs run (a thread of its own), so Ctrl-C reaches the main thread here:
        # the programs are ended first, their last packets captured, then the child stopped and the story finished
        teller = threading.Thread(target=tell, daemon=True)
        with child:
            teller.start()
            progs = _Programs(said, {"server": words["server"], "client": words["client"]})
            try:
                _experiment(lab, net, progs, result, programs, host, port)
            finally:
                progs.close()
                time.sleep(LINGER_S)
                problem = child.problem()  # the capture program ended on its own (before we stop it)
                child.stop()
                teller.join()
        result.dropped = child.dropped()  # said by the capture program as it ended
        if errors:
            raise errors[0]
    if problem:
        result.warnings.append(problem)
    if result.dropped:
        result.warnings.append(f"the capture missed {result.dropped} packets (dropped by the kernel)")
    result.warnings.extend(result.failed)
    return result


def _capture(
    net: PrivateNetwork | HostLoopback,
    side: str,
    bpf: str | None,
    copy: BinaryIO | None,
    tool: str | None,
    snaplen: int,
) -> CaptureChild:
    """The capture child on ``side``: in the side's namespace, or on the host's loopback, where this user may not
    be allowed to capture (start_capture tries dumpcap when tcpdump may not)."""
    if isinstance(net, PrivateNetwork):
        return start_capture(net.iface(side), bpf, write=copy, netns=net.ns(side), tool=tool, snaplen=snaplen)
    try:
        return start_capture(net.iface(side), bpf, write=copy, tool=tool, snaplen=snaplen)
    except LiveCaptureError as exc:
        # live's message says what would let this user capture (setcap, the wireshark group)
        raise LabError(
            f"tcptrace lab needs root (sudo) for its private network; on the host's loopback: {exc}"
        ) from exc


def _experiment(
    lab: Lab,
    net: PrivateNetwork | HostLoopback,
    progs: _Programs,
    result: LabRun,
    programs: Path,
    host: str,
    port: int,
) -> None:
    server = None
    if lab.server is not None:
        server = progs.start("server", [*net.prefix("server"), *_program_argv(lab.server, programs, host, port)])
        deadline = time.monotonic() + LISTEN_TIMEOUT_S
        while not net.listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                result.exits["server"] = server.poll()
                raise LabError(f"the server program did not start listening on port {port}")
            time.sleep(0.05)
    clients = []
    for i, words in enumerate(lab.clients):
        clients.append(progs.start("client", [*net.prefix("client"), *_program_argv(words, programs, host, port)]))
        if i + 1 < len(lab.clients):  # the next client once this one is connected (a fixed order on the wire)
            deadline = time.monotonic() + LISTEN_TIMEOUT_S
            while net.established(port) < i + 1 and clients[-1].poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
    for i, proc in enumerate(clients):
        result.exits["client" if len(clients) == 1 else f"client {i + 1}"] = progs.wait(proc, PROGRAM_TIMEOUT_S)
    if server is not None:
        result.exits["server"] = progs.wait(server, LISTEN_TIMEOUT_S)


def custom_lab(server: str, client: str, port: int, server_args: Sequence[str], client_args: Sequence[str]) -> Lab:
    """The lab ``tcptrace lab run SERVER CLIENT`` runs: each program gets ``--host H --port P`` and its extra
    arguments; one file for both sides gets ``server`` or ``client`` first (as the shipped programs do)."""
    from .labs import HOST_PORT

    same = os.path.realpath(server) == os.path.realpath(client)
    server_words = (os.path.abspath(server), *(("server",) if same else ()), *HOST_PORT, *server_args)
    client_words = (os.path.abspath(client), *(("client",) if same else ()), *HOST_PORT, *client_args)
    names = f"{Path(server).name}, {Path(client).name}"
    return Lab("run", {"en": names, "zh": names}, port, server_words, (client_words,), ())
