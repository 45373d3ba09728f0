"""Zeek's view of a connection: the ``history`` string and ``conn_state`` (reference §3.1-3.2), computed from what
tcptrace tracks per stream (tcptrace.stats.FlowSummary feeds :class:`ZeekHistory` and asks :func:`conn_state`).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from .analysis import A_FAST_RETRANSMISSION, A_LOST_PACKET, A_RETRANSMISSION, A_SPURIOUS_RETRANSMISSION, A_ZERO_WINDOW
from .model import ACK, FIN, RST, SYN

if TYPE_CHECKING:
    from .model import Segment

M32 = 0xFFFFFFFF
_RETRANS = A_RETRANSMISSION | A_FAST_RETRANSMISSION | A_SPURIOUS_RETRANSMISSION


class ZeekHistory:
    """Zeek's ``history`` string (TCPSessionAdapter.cc update_history; reference §3.2): upper case for the
    originator, lower case for the responder; a/d/i/q once per side, f/h/r/s again only when the sequence
    number changes, t/w/g logarithmically (1st, 10th, 100th ...)."""

    def __init__(self) -> None:
        self.history = ""
        self.orig_dir = 0
        self.flipped = False
        self.once: set[tuple[str, str]] = set()  # (letter, "O" or "R") of the once-per-side letters written
        self._last_seq: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self.sent: list[set[str]] = [set(), set()]  # letters (lower case) each side produced

    def _letter(self, ch: str, direction: int) -> None:
        letter = ch.upper() if direction == self.orig_dir else ch
        self.history += letter
        self.sent[0 if direction == self.orig_dir else 1].add(ch)

    def _scaled(self, ch: str, direction: int) -> None:
        key = ch.upper() if direction == self.orig_dir else ch
        n = self._counts.get(key, 0) + 1
        self._counts[key] = n
        if n == 1 or (n >= 10 and math.log10(n).is_integer()):
            self._letter(ch, direction)

    def add(self, seg: Segment, first: bool) -> None:
        flags = seg.flags
        direction = seg.direction
        if first:
            # Zeek's originator is the first packet's sender, flipped when that packet is a SYN/ACK.
            self.orig_dir = direction
            if flags & (SYN | ACK) == SYN | ACK:
                self.orig_dir = 1 - direction
                self.flipped = True
                self.history = "^"
        key_dir = "O" if direction == self.orig_dir else "R"
        syn, fin, rst = flags & SYN, flags & FIN, flags & RST
        if syn and (fin or rst):
            if ("q", key_dir) not in self.once:
                self.once.add(("q", key_dir))
                self._letter("q", direction)
        elif fin and rst:
            if ("i", key_dir) not in self.once:
                self.once.add(("i", key_dir))
                self._letter("i", direction)
        elif syn:
            ch = "h" if flags & ACK else "s"
            self._repeatable(ch, direction, seg.seq_raw)
        elif fin:
            self._repeatable("f", direction, (seg.seq_raw + seg.len) & M32)
        elif rst:
            self._repeatable("r", direction, seg.seq_raw)
        elif seg.len:
            if ("d", key_dir) not in self.once:
                self.once.add(("d", key_dir))
                self._letter("d", direction)
        elif flags & ACK and ("a", key_dir) not in self.once:
            self.once.add(("a", key_dir))
            self._letter("a", direction)
        ta = seg.analysis
        if ta & _RETRANS and seg.len:
            self._scaled("t", direction)
        if ta & A_ZERO_WINDOW:
            self._scaled("w", direction)
        if ta & A_LOST_PACKET:
            self._scaled("g", direction)

    def _repeatable(self, ch: str, direction: int, seq: int) -> None:
        key = ch.upper() if direction == self.orig_dir else ch
        if self._last_seq.get(key) != seq:
            self._last_seq[key] = seq
            self._letter(ch, direction)

    def endpoint_states(self) -> tuple[str, str]:
        """Zeek's TCP endpoint states at the end (INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED,
        CLOSED, RESET), inferred from what each side sent."""
        out = []
        for i in (0, 1):
            sent = self.sent[i]
            other = self.sent[1 - i]
            if "r" in sent:
                out.append("RESET")
            elif "f" in sent:
                out.append("CLOSED")
            elif ("s" in sent and "h" in other) or ("h" in sent and ({"a", "d"} & other)):
                out.append("ESTABLISHED")
            elif "s" in sent:
                out.append("SYN_SENT")
            elif "h" in sent:
                out.append("SYN_ACK_SENT")
            elif sent:
                out.append("PARTIAL")
            else:
                out.append("INACTIVE")
        return out[0], out[1]


def conn_state(orig: str, resp: str, hist: ZeekHistory) -> str:
    """Zeek's conn_state from the two endpoint states (scripts/base/protocols/conn/main.zeek, reference §3.1)."""
    inactive = ("INACTIVE", "PARTIAL")
    if resp == "RESET":
        if orig in ("SYN_SENT", "SYN_ACK_SENT") or (orig == "RESET" and not hist.sent[0] - {"s", "r"}):
            return "REJ"
        return "RSTRH" if orig in inactive else "RSTR"
    if orig == "RESET":
        if resp in inactive:
            import re

            return "RSTOS0" if re.match(r"^\^?S[^HAFGIQ]*R", hist.history) else "OTH"
        return "RSTO"
    if orig == "CLOSED" and resp == "CLOSED":
        return "SF"
    if orig == "CLOSED":
        return "SH" if resp in inactive else "S2"
    if resp == "CLOSED":
        return "SHR" if orig in inactive else "S3"
    if orig == "SYN_SENT" and resp in inactive:
        return "S0"
    if orig == "ESTABLISHED" and resp == "ESTABLISHED":
        return "S1"
    return "OTH"


@functools.lru_cache(maxsize=4096)
def conn_state_of(history: str) -> str:
    """:func:`conn_state` of a stream whose history string is ``history``: each side's letters are in it (upper
    case the originator's), so the history alone decides; cached (a scan has a handful of distinct histories)."""
    hist = ZeekHistory()
    hist.history = history
    hist.sent = [{ch.lower() for ch in history if ch.isupper()}, {ch for ch in history if ch.islower()}]
    return conn_state(*hist.endpoint_states(), hist)


__all__ = ["ZeekHistory", "conn_state", "conn_state_of"]
