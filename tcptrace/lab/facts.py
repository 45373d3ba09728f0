"""Check a lab's facts (:class:`tcptrace.lab.labs.Fact`) on the typed analysis of the capture it wrote.

Each fact is read from the narrative's values, not its sentences: the summary's ``opened``/``closed`` words and
reset causes, each step's endpoint states and Wireshark analysis flags, the SYN retransmissions' times. The
sentences are the renderer's business; these values are what they are rendered from.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from .labs import Fact, Lab

# A retransmission timer that doubles (RFC 6298 5.5) gives gaps in the ratio 2; timer slack and the first SYN's
# send time blur it by a few milliseconds, so "about twice" is 1.6 to 2.5.
BACKOFF_RATIO = (1.6, 2.5)


def _states(flow: Any, role: str) -> list[str]:
    """The distinct states ``role`` passes through, in order."""
    out: list[str] = []
    for step in flow.steps:
        state = step.client_state if role == "client" else step.server_state
        if not out or out[-1] != state:
            out.append(state)
    return out


def _in_order(wanted: tuple[str, ...], seen: list[str]) -> bool:
    it = iter(seen)
    return all(any(s == w for s in it) for w in wanted)


def syn_times(path: str | os.PathLike[str]) -> list[float]:
    """The times (s) of the client's SYNs (first one and retransmissions) in the capture's first stream."""
    from ..api import iter_packets

    return [seg.ts_ns / 1e9 for seg in iter_packets(path) if seg.stream == 0 and seg.flag_names == ("SYN",)]


def check_fact(fact: Fact, flows: list[Any], path: str | os.PathLike[str]) -> str:
    """Empty if the capture shows ``fact``; else what was seen instead."""
    if fact.kind == "streams":
        return "" if len(flows) == fact.n else f"{len(flows)} connections, not {fact.n}"
    if not flows:
        return "no TCP connection captured"
    bad: list[str] = []
    for flow in flows:
        s = flow.summary
        if fact.kind in ("opened", "closed"):
            if s[fact.kind] != fact.value:
                bad.append(f"{fact.kind} {s[fact.kind]!r}, not {fact.value!r}")
        elif fact.kind == "states":
            seen = _states(flow, fact.role)
            if not _in_order(fact.values, seen):
                bad.append(f"{fact.role} states {' > '.join(seen)} lack {' > '.join(fact.values)}")
        elif fact.kind == "reset":
            causes = [(r["by"], r["cause_code"]) for r in s["resets"]]
            if (fact.role, fact.value) not in causes:
                bad.append(f"resets {causes}, none by the {fact.role} with cause {fact.value!r}")
        elif fact.kind == "flag":
            if not any(fact.value in step.flags for step in flow.steps):
                bad.append(f"no step flagged {fact.value}")
        elif fact.kind == "bytes":
            # classic tcptrace's "unique bytes sent" (retransmissions of every kind left out): Wireshark's flags,
            # which the summary's own byte counts follow, call some retransmissions out-of-order instead
            classic = s["tcptrace"]
            a_is_client = classic["host_a"] == s["client"]
            sent = classic["a2b" if (fact.role == "c2s") == a_is_client else "b2a"]["unique_bytes_sent"]
            if sent != fact.n:
                bad.append(f"{fact.role} {sent} bytes, not {fact.n}")
        elif fact.kind == "segments":
            n = s[fact.role]["data_packets"]
            if n != fact.n:
                bad.append(f"{fact.role} {n} data segments, not {fact.n}")
        elif fact.kind == "retransmissions":
            flagged = [step for step in flow.steps if {"retransmission", "fast_retransmission"} & set(step.flags)]
            if not s["retransmitted_bytes"][fact.role] or not flagged:
                bad.append(f"no retransmission {fact.role}")
        elif fact.kind == "syn_backoff":
            times = syn_times(path)
            gaps = [b - a for a, b in itertools.pairwise(times)]
            ratios = [b / a for a, b in itertools.pairwise(gaps) if a > 0]
            if len(times) < fact.n + 1 or not all(BACKOFF_RATIO[0] <= r <= BACKOFF_RATIO[1] for r in ratios):
                bad.append(f"SYN gaps {', '.join(f'{g:.2f}' for g in gaps)} s do not double ({fact.n} wanted)")
        else:
            raise ValueError(f"unknown fact kind {fact.kind!r}")
    return "; ".join(dict.fromkeys(bad))


def check_facts(lab: Lab, path: str | os.PathLike[str], lang: str = "en") -> dict[Fact, str]:
    """Every fact of ``lab`` that the capture at ``path`` does not show, with what was seen instead."""
    from ..narrate import explain

    flows = explain(os.fspath(path), lang=lang).flows
    return {fact: why for fact in lab.facts if (why := check_fact(fact, flows, path))}
