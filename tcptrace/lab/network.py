"""The lab's private network: two network namespaces joined by a veth pair (root), or the host loopback.

As ``sample_pcaps/record.sh`` does it: a server namespace and a client namespace, joined by a veth pair with MTU
1500 and fixed MAC addresses, IPv4 10.99.0.1 (server) and 10.99.0.2 (client). The addresses exist only inside
these namespaces, so no packet leaves them and the host's own network is not touched; deleting a namespace
deletes its end of the pair, and with it the pair. Offloads are turned off (ethtool, when installed) so the
capture shows wire-sized segments, not the kernel's 64 KB super-segments. IPv6 is off in both namespaces: the
labs speak IPv4, and the kernel's IPv6 chatter (router solicitations, MLD reports) would only clutter the
capture. The namespace names carry our process id and a counter, so parallel runs never collide, and
:meth:`PrivateNetwork.close` deletes them whatever happened (an exception, Ctrl-C).

Without root, :class:`HostLoopback` runs the programs on 127.0.0.1 with the capture on ``lo`` filtered to the
lab's port: no rules (a lab that needs them says so), and the loopback's 64 KB MTU.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Sequence

from ..errors import TcptraceError

SERVER_ADDR = "10.99.0.1"
CLIENT_ADDR = "10.99.0.2"
PREFIX = 24
SERVER_IF = "tt-srv0"
CLIENT_IF = "tt-cli0"
SERVER_MAC = "02:00:0a:63:00:01"
CLIENT_MAC = "02:00:0a:63:00:02"
LOOPBACK_ADDR = "127.0.0.1"

_COUNTER = itertools.count()


class LabError(TcptraceError):
    """The lab cannot run here (not root, a tool missing) or an experiment failed."""


def _run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    if check and proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{' '.join(argv)}: {said[-1] if said else f'exit status {proc.returncode}'}")
    return proc


class PrivateNetwork:
    """Two fresh namespaces and a veth pair; a context manager that always deletes them."""

    server_addr = SERVER_ADDR
    client_addr = CLIENT_ADDR

    def __init__(self) -> None:
        tag = f"{os.getpid()}-{next(_COUNTER)}"
        self.server_ns = f"tcptrace-lab-srv-{tag}"
        self.client_ns = f"tcptrace-lab-cli-{tag}"
        self._made: list[str] = []

    def iface(self, side: str) -> str:
        return SERVER_IF if side == "server" else CLIENT_IF

    def ns(self, side: str) -> str:
        return self.server_ns if side == "server" else self.client_ns

    def prefix(self, side: str) -> list[str]:
        """The words that run a command inside ``side``'s namespace."""
        return ["ip", "netns", "exec", self.ns(side)]

    def open(self) -> PrivateNetwork:
        for ns in (self.server_ns, self.client_ns):
            _run(["ip", "netns", "add", ns])
            self._made.append(ns)
            _run(["ip", "-n", ns, "link", "set", "lo", "up"])
            _run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            _run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])
        _run(["ip", "link", "add", CLIENT_IF, "netns", self.client_ns, "address", CLIENT_MAC, "mtu", "1500",
              "type", "veth", "peer", "name", SERVER_IF, "netns", self.server_ns, "address", SERVER_MAC,
              "mtu", "1500"])  # fmt: skip
        _run(["ip", "-n", self.server_ns, "addr", "add", f"{SERVER_ADDR}/{PREFIX}", "dev", SERVER_IF])
        _run(["ip", "-n", self.client_ns, "addr", "add", f"{CLIENT_ADDR}/{PREFIX}", "dev", CLIENT_IF])
        if shutil.which("ethtool"):
            for side in ("server", "client"):
                _run([*self.prefix(side), "ethtool", "-K", self.iface(side), "tx", "off", "rx", "off", "tso", "off",
                      "gso", "off", "gro", "off"], check=False)  # fmt: skip
        for side in ("server", "client"):
            _run(["ip", "-n", self.ns(side), "link", "set", self.iface(side), "up"])
        self._wait_link_up()
        return self

    def _wait_link_up(self) -> None:
        # both ends up: the carrier is there at once on a veth, but give the kernel a moment to say so
        for _ in range(100):
            out = _run(["ip", "-n", self.client_ns, "-o", "link", "show", CLIENT_IF], check=False).stdout
            if "LOWER_UP" in out and "state UP" in out:
                return
            time.sleep(0.02)

    def close(self) -> None:
        while self._made:
            _run(["ip", "netns", "del", self._made.pop()], check=False)

    def __enter__(self) -> PrivateNetwork:
        try:
            return self.open()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def listening(self, port: int) -> bool:
        out = _run([*self.prefix("server"), "ss", "-Hltn", f"sport = :{port}"], check=False).stdout
        return bool(out.strip())

    def established(self, port: int) -> int:
        out = _run([*self.prefix("client"), "ss", "-Htn", "state", "established", f"dport = :{port}"],
                   check=False).stdout  # fmt: skip
        return len([ln for ln in out.splitlines() if ln.strip()])


class HostLoopback:
    """The host's loopback, for a lab run without root: no namespaces, nothing to clean up."""

    server_addr = LOOPBACK_ADDR
    client_addr = LOOPBACK_ADDR
    server_ns = client_ns = ""

    def iface(self, side: str) -> str:
        return "lo"

    def ns(self, side: str) -> str:
        return ""

    def prefix(self, side: str) -> list[str]:
        return []

    def __enter__(self) -> HostLoopback:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def listening(self, port: int) -> bool:
        if not shutil.which("ss"):
            time.sleep(0.3)
            return True
        return bool(_run(["ss", "-Hltn", f"sport = :{port}"], check=False).stdout.strip())

    def established(self, port: int) -> int:
        if not shutil.which("ss"):
            return 1 << 30
        out = _run(["ss", "-Htn", "state", "established", f"dport = :{port}"], check=False).stdout
        return len([ln for ln in out.splitlines() if ln.strip()])


def can_make_namespaces() -> str:
    """Empty if this process may make the private network; else what is missing, in a few words."""
    if os.geteuid() != 0:
        return "root"
    missing = [tool for tool in ("ip", "ss") if not shutil.which(tool)]
    return " and ".join(f"{tool} (iproute2)" for tool in missing)


def run_rule(net: PrivateNetwork, side: str, argv: Sequence[str], optional: bool) -> None:
    if optional:
        with contextlib.suppress(LabError):
            _run([*net.prefix(side), *argv])
        return
    _run([*net.prefix(side), *argv])
