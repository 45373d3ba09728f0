"""Assertions on captured traffic for CI: ``tcptrace check``.

Theory of operation. :func:`run_checks` reads the capture once (the full analysis pipeline), remembers the
first frames of every notable event per stream (RSTs and each analysis flag), and evaluates the requested
assertions per flow, each becoming a :class:`Finding` (passed or failed, with the frames that prove a failure
and a sentence saying why). :func:`compare_baseline` compares the capture's flow summary with a document saved
by ``tcptrace flows --format json``, ignoring what legitimately changes between runs (times, client ports,
addresses unless asked) and reporting what matters: how flows opened and ended, their flags, and packet/byte
counts beyond a tolerance. :func:`junit_xml` writes the findings as JUnit XML for CI systems. The capture
reader's warnings (a damaged or cut record) are kept in :attr:`CheckResult.warnings`; with ``strict`` each is
also a failed finding. Report lines and XML escape control characters (a baseline is input too: its strings
reach both).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .analysis import analysis_names
from .engine import Pipeline, engine_module, summarize
from .model import RST
from .output import display_path, path_text, printable
from .selection import Selection
from .stats import FlowSummary
from .vocab import BASELINE_IGNORE, CHECK_REQUIREMENTS, FLAGS, FORBID_EVENTS

REQUIREMENTS = CHECK_REQUIREMENTS
# --forbid EVENT -> the event names it matches: "rst" is the TCP flag, the rest are the analysis flags carrying
# EVENT as their `check` alias (tcptrace.vocab.FLAGS). A fast or spurious retransmission is also counted as
# "retransmission", as tshark does (analysis_names).
FORBIDDABLE: dict[str, tuple[str, ...]] = {
    event: ("rst",) if event == "rst" else tuple(f.name for f in FLAGS if event in f.check) for event in FORBID_EVENTS
}
_MAX_FRAMES = 5


@dataclass(frozen=True)
class Finding:
    """The outcome of one assertion on one flow (``stream`` -1: the capture as a whole)."""

    stream: int
    flow: str
    assertion: str
    ok: bool
    message: str
    frames: tuple[int, ...] = ()

    def line(self, color: bool = False) -> str:
        where = f"stream {self.stream} ({self.flow})" if self.stream >= 0 else "capture"
        frames = f" [frames {', '.join(map(str, self.frames))}]" if self.frames else ""
        verdict = "PASS" if self.ok else "FAIL"
        if color:
            import click

            verdict = click.style(verdict, fg="green" if self.ok else "red", bold=not self.ok)
        return verdict + printable(f"  {where}: {self.assertion}: {self.message}{frames}")


@dataclass
class CheckResult:
    capture: str
    findings: list[Finding] = field(default_factory=list)
    flows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the capture reader's (CaptureStats.warnings)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def report(self, verbose: bool = False, color: bool = False) -> str:
        lines = [f.line(color) for f in self.findings if verbose or not f.ok]
        n_fail = len(self.failures)
        lines.append(
            f"{len(self.findings) - n_fail} passed, {n_fail} failed "
            f"({len(self.flows)} stream{'' if len(self.flows) == 1 else 's'} in {display_path(self.capture)})"
        )
        return "\n".join(lines)


def run_checks(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    streams: Iterable[int] | None = None,
    require: Iterable[str] = (),
    forbid: Iterable[str] = (),
    max_retransmissions: int | None = None,
    max_rtt_ms: float | None = None,
    hosts: Iterable[str] = (),
    ports: Iterable[int] = (),
    strict: bool = False,
    jobs: int = 1,
    dask: Any = None,
) -> CheckResult:
    """Evaluate the assertions on every selected stream of a capture (by number, or by host / port). With
    ``strict``, every warning of the capture reader is a failed finding too (one passes when there is none).
    With ``jobs`` > 1 (or ``dask``, a dask.distributed Client) the flow documents come from that many passes in
    parallel (tcptrace.parallel), the same documents and findings."""
    require = list(require)
    forbid = list(forbid)
    for r in require:
        if r not in REQUIREMENTS:
            raise ValueError(f"unknown requirement {r!r}; choose from {', '.join(REQUIREMENTS)}")
    for f in forbid:
        if f not in FORBIDDABLE:
            raise ValueError(f"unknown event {f!r}; choose from {', '.join(FORBIDDABLE)}")
    wanted = set(streams) if streams is not None else None
    selection = Selection.of(hosts=hosts, ports=ports)  # a host name fails here, before reading
    events: dict[int, dict[str, list[int]]] = {}
    engine = engine_module()
    rereadable = isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-"
    checked: list[tuple[int, dict[str, Any], bool]] = []  # the selected streams: number, document, a forbidden hit
    names = {n for f in forbid for n in FORBIDDABLE[f]} | ({"retransmission"} if max_retransmissions else set())
    if forbid and (engine is None or not rereadable):
        # only --forbid names the frames of events: the per-packet pass, the selection inside it
        run = Pipeline(source, track_bytes_in_flight=False, selection=Selection.of(wanted or (), hosts, ports))
        _collect_events(run, events)
        checked = [
            (s.flow.stream, s.to_dict(), False)
            for s in run.summaries
            if (wanted is None or s.flow.stream in wanted) and selection.matches(s.flow)
        ]
        warnings = list(run.stats.warnings)
    elif jobs > 1 or dask is not None:
        from .parallel import run_parts

        assert isinstance(source, (str, os.PathLike))  # a path or a CaptureSet (several files): read again by parts
        items, stats, _total = run_parts([source], jobs, _Checked(selection, frozenset(names)), dask=dask)
        checked = [(n, {**d, "stream": n}, hit) for n, (d, hit) in items if wanted is None or n in wanted]
        warnings = list(stats.warnings)
    else:
        # flow-level assertions and --baseline read the flow documents: the same pass (the C engine when built)
        # that `tcptrace flows --format json`, and so the baseline, comes from
        all_summaries, stats = summarize(source)
        warnings = list(stats.warnings)
        checked = [
            (s.flow.stream, s.to_dict(), _has_any(s, names))
            for s in all_summaries
            if (wanted is None or s.flow.stream in wanted) and selection.matches(s.flow)
        ]
    if forbid and engine is not None and rereadable:  # frames for the streams with a forbidden event: a second
        hit = [n for n, _d, h in checked if h]  # pass, selecting only them
        if hit:
            _collect_events(Pipeline(source, track_bytes_in_flight=False, selection=Selection.of(hit)), events)
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(getattr(source, "name", "<stream>"))
    result = CheckResult(name, warnings=warnings)
    if wanted is not None and not checked:
        result.findings.append(Finding(-1, "", "streams", False, f"no stream {sorted(wanted)} in the capture"))
    elif not checked and not selection.everything:
        result.findings.append(Finding(-1, "", "streams", False, "no stream matches the selection (--host/--port)"))
    for n, d, _hit in checked:
        result.flows.append(d)
        result.findings.extend(_flow_findings(n, d, events.get(n, {}), require, forbid, max_retransmissions,
                                              max_rtt_ms))  # fmt: skip
    if strict:
        for w in warnings:
            result.findings.append(Finding(-1, "", "strict", False, f"the capture reader warned: {w}"))
        if not warnings:
            result.findings.append(Finding(-1, "", "strict", True, "no warnings from the capture reader"))
    return result


def _collect_events(run: Pipeline, events: dict[int, dict[str, list[int]]]) -> None:
    """The frames of each stream's analysis flags and RSTs (at most _MAX_FRAMES each; more are counted as -1)."""
    for seg in run:
        if seg.analysis or seg.flags & RST:
            ev = events.setdefault(seg.stream, {})
            names = list(analysis_names(seg.analysis))
            if seg.flags & RST:
                names.append("rst")
            for name in names:
                frames = ev.setdefault(name, [])
                frames.append(seg.frame if len(frames) < _MAX_FRAMES else -1)  # beyond: counted, not listed


def _has_any(s: FlowSummary, names: set[str]) -> bool:
    """Whether the summary counted a segment with one of these analysis flags (or "rst")."""
    return any(d.flag_counts.get(n) for d in s.dirs for n in names) or (
        "rst" in names and any(d.rst_packets for d in s.dirs)
    )


@dataclass(frozen=True)
class _Checked:
    """A stream's flow document and whether it counted one of ``names`` (tcptrace.parallel runs it per stream of
    a part; hosts and ports are selected there, stream numbers after renumbering)."""

    selection: Selection
    names: frozenset[str]

    def __call__(self, eng: Any, i: int) -> tuple[dict[str, Any], bool] | None:
        from .engine import engine_summary
        from .flow import HalfFlow

        if self.selection.networks or self.selection.ports:
            life = eng.lifecycle(i)
            ends = HalfFlow(life.client_addr, life.client_port), HalfFlow(life.server_addr, life.server_port)
            if not Selection(networks=self.selection.networks, ports=self.selection.ports).matches_endpoints(i, *ends):
                return None
        s = engine_summary(eng, i)
        return s.to_dict(), _has_any(s, set(self.names))


def _flow_findings(
    stream: int,
    d: dict[str, Any],
    events: dict[str, list[int]],
    require: list[str],
    forbid: list[str],
    max_retransmissions: int | None,
    max_rtt_ms: float | None,
) -> list[Finding]:
    label = f"{d['client']} → {d['server']}"
    out: list[Finding] = []

    def add(assertion: str, ok: bool, message: str, frames: Iterable[int] = ()) -> None:
        out.append(Finding(stream, label, assertion, ok, message, tuple(f for f in frames if f > 0)))

    for r in require:
        if r == "handshake":
            ok = d["opened"] == "handshake"
            add("require handshake", ok, "three-way handshake seen" if ok else f"opened: {d['opened']}",
                d["handshake_frames"])  # fmt: skip
        elif r == "data":
            total = d["bytes"]["c2s"] + d["bytes"]["s2c"]
            add("require data", total > 0, f"{total} data bytes" if total else "no data in either direction")
        elif r == "graceful-close":
            ok = d["closed"].startswith("graceful_close")
            frames = [f["frame"] for f in d["fin_frames"]] + [r_["frame"] for r_ in d["resets"]]
            add("require graceful-close", ok, d["verdict"] if not ok else f"closed: {d['closed']}", frames)
    for f in forbid:
        hits: list[int] = []
        for name in FORBIDDABLE[f]:
            hits.extend(events.get(name, []))
        count = len(hits)
        shown = sorted(x for x in hits if x > 0)
        if count:
            first = shown[0] if shown else 0
            why = _event_why(d, f, first)
            add(f"forbid {f}", False, f"{count} found, first in frame {first}{why}", shown)
        else:
            add(f"forbid {f}", True, "none")
    if max_retransmissions is not None:
        n = sum(d[k]["analysis"].get("retransmission", 0) for k in ("c2s", "s2c"))
        frames = events.get("retransmission", [])
        add(f"max-retransmissions {max_retransmissions}", n <= max_retransmissions, f"{n} retransmissions", frames)
    if max_rtt_ms is not None:
        worst = 0.0
        for k in ("c2s", "s2c"):
            rtt = d[k]["rtt"]
            if rtt:
                worst = max(worst, rtt["max_ms"])
        if d["irtt_s"]:
            worst = max(worst, d["irtt_s"] * 1000)
        add(f"max-rtt {max_rtt_ms:g} ms", worst <= max_rtt_ms, f"largest RTT sample {worst:.3f} ms")
    return out


def _event_why(d: dict[str, Any], forbid: str, frame: int) -> str:
    if forbid == "rst":
        for entry in d["resets"]:
            if entry["frame"] == frame:
                return f" ({entry['by']} in {entry['sender_state']}: {entry['cause']})"
    return ""


# --- baseline --------------------------------------------------------------------------------------------

DEFAULT_IGNORE = BASELINE_IGNORE


def _key(flow: dict[str, Any], ignore: set[str]) -> tuple[str, ...]:
    server = flow["server"]
    port = server.rsplit(":", 1)[1]
    host = server.rsplit(":", 1)[0]
    return (port,) if "addresses" in ignore else (host, port)


def compare_baseline(
    current: list[dict[str, Any]],
    baseline: dict[str, Any],
    *,
    tolerance: float = 0.1,
    ignore: Iterable[str] = DEFAULT_IGNORE,
) -> list[Finding]:
    """Compare flows with a saved ``tcptrace flows --format json`` document.

    Flows are matched by server (port, and address unless ``addresses`` is ignored) and order of appearance,
    because client ports and ISNs change between runs. Compared: how each flow opened and closed, Wireshark
    completeness, Zeek conn_state, the set of analysis flags, and packets and bytes each way within
    ``tolerance`` (a fraction; at least 2 packets or bytes of slack).
    """
    validate_baseline(baseline)
    ign = set(ignore)
    out: list[Finding] = []
    base_flows = baseline.get("flows", [])
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for f in base_flows:
        groups.setdefault(_key(f, ign), []).append(f)
    used: dict[tuple[str, ...], int] = {}
    for flow in current:
        k = _key(flow, ign)
        i = used.get(k, 0)
        used[k] = i + 1
        label = f"{flow['client']} → {flow['server']}"
        stream = flow["stream"]
        candidates = groups.get(k, [])
        if i >= len(candidates):
            out.append(Finding(stream, label, "baseline", False, "a flow the baseline does not have"))
            continue
        out.extend(_compare_flow(flow, candidates[i], tolerance, stream, label))
    for k, flows in groups.items():
        for extra in flows[used.get(k, 0) :]:
            out.append(Finding(-1, f"{extra['client']} → {extra['server']}", "baseline", False,
                               f"the baseline's stream {extra['stream']} is missing from this capture"))  # fmt: skip
    if not out:
        out.append(Finding(-1, "", "baseline", True, "no flows on either side"))
    return out


def validate_baseline(doc: dict[str, Any]) -> None:
    """Raise ValueError with a one-line reason unless every baseline flow has what the comparison reads."""
    if not isinstance(doc, dict):
        raise ValueError("it is not a JSON object")
    flows = doc.get("flows")
    if not isinstance(flows, list):
        raise ValueError("its 'flows' is not a list")
    for n, f in enumerate(flows):
        where = f"flow {n} of the baseline"
        if not isinstance(f, dict):
            raise ValueError(f"{where} is not an object")
        server = f.get("server")
        if not isinstance(server, str) or not server.rpartition(":")[2].isdigit():
            raise ValueError(f"{where} has no server as host:port (got {server!r})")
        for key, kind in (("stream", int), ("client", str), ("opened", str), ("closed", str)):
            if not isinstance(f.get(key), kind):
                raise ValueError(f"{where} has no {key!r} ({kind.__name__})")
        for key, inner in (("wireshark", "completeness"), ("zeek", "conn_state")):
            if not isinstance(f.get(key), dict) or inner not in f[key]:
                raise ValueError(f"{where} has no {key}.{inner}")
        for key in ("packets", "bytes"):
            v = f.get(key)
            if not isinstance(v, dict) or not all(isinstance(v.get(d), (int, float)) for d in ("c2s", "s2c")):
                raise ValueError(f"{where} has no {key}.c2s / {key}.s2c numbers")
        for d in ("c2s", "s2c"):
            if not isinstance(f.get(d), dict) or not isinstance(f[d].get("analysis"), dict):
                raise ValueError(f"{where} has no {d}.analysis object")


def _compare_flow(cur: dict[str, Any], base: dict[str, Any], tol: float, stream: int, label: str) -> list[Finding]:
    diffs: list[str] = []
    for key in ("opened", "closed"):
        if cur[key] != base[key]:
            diffs.append(f"{key}: {base[key]} → {cur[key]}")
    if cur["wireshark"]["completeness"] != base["wireshark"]["completeness"]:
        diffs.append(f"completeness: {base['wireshark']['completeness']} → {cur['wireshark']['completeness']}")
    if cur["zeek"]["conn_state"] != base["zeek"]["conn_state"]:
        diffs.append(f"conn_state: {base['zeek']['conn_state']} → {cur['zeek']['conn_state']}")
    for what in ("packets", "bytes"):
        for d in ("c2s", "s2c"):
            a, b = base[what][d], cur[what][d]
            if abs(a - b) > max(2, tol * max(a, b)):
                diffs.append(f"{what} {d}: {a} → {b}")
    flags_b = set(base["c2s"]["analysis"]) | set(base["s2c"]["analysis"])
    flags_c = set(cur["c2s"]["analysis"]) | set(cur["s2c"]["analysis"])
    if flags_c - flags_b:
        diffs.append(f"new analysis flags: {', '.join(sorted(flags_c - flags_b))}")
    if flags_b - flags_c:
        diffs.append(f"flags gone: {', '.join(sorted(flags_b - flags_c))}")
    if diffs:
        return [Finding(stream, label, "baseline", False, "; ".join(diffs))]
    return [Finding(stream, label, "baseline", True, f"matches baseline stream {base['stream']}")]


# --- JUnit -------------------------------------------------------------------------------------------------


def _escape(data: str) -> str:
    """XML character data: ``&``, ``<`` and ``>`` as entities. What ``xml.sax.saxutils.escape`` returns, byte for
    byte, without importing that module (it costs urllib, http.client and email at start-up), for text without
    control characters. Those (most of which XML 1.0 cannot carry even as character references) and lone
    surrogates (which UTF-8 cannot carry) are escaped as ``repr`` escapes them (tcptrace.output.printable)."""
    return printable(data).replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _quoteattr(data: str) -> str:
    """A quoted XML attribute value, what ``xml.sax.saxutils.quoteattr`` returns: escaped (newlines and tabs as
    ``\\n`` and ``\\t``, by :func:`_escape`, rather than character references), quoted with ``'`` when it
    contains ``"`` but not ``'``, else with ``"`` (any ``"`` inside as ``&quot;``)."""
    data = _escape(data)
    if '"' in data:
        if "'" in data:
            return '"' + data.replace('"', "&quot;") + '"'
        return "'" + data + "'"
    return '"' + data + '"'


def junit_xml(result: CheckResult) -> str:
    """JUnit XML: one testsuite for the capture, one testcase per assertion per flow."""
    failures = len(result.failures)
    cases = []
    for f in result.findings:
        name = f"stream {f.stream} ({f.flow}): {f.assertion}" if f.stream >= 0 else f"capture: {f.assertion}"
        case = f"  <testcase classname={_quoteattr('tcptrace.check')} name={_quoteattr(name)}"
        if f.ok:
            cases.append(case + "/>")
        else:
            msg = f.message + (f" [frames {', '.join(map(str, f.frames))}]" if f.frames else "")
            failure = f"<failure message={_quoteattr(msg)}>{_escape(f.line())}</failure>"
            cases.append(f"{case}>\n    {failure}\n  </testcase>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name={_quoteattr("tcptrace check " + path_text(result.capture))} tests="{len(result.findings)}" '
        f'failures="{failures}" errors="0">\n' + "\n".join(cases) + "\n</testsuite>\n"
    )


__all__ = ["CheckResult", "Finding", "compare_baseline", "junit_xml", "run_checks", "validate_baseline"]
