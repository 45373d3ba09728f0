"""Narratives: the story of each TCP connection, step by step, in plain language (English or Chinese).

Theory of operation. :func:`explain` runs the whole pipeline (reader, flow tracker, Wireshark analysis,
per-flow summary with endpoint states) and turns each stream's analysed segments into :class:`Step` values:
one per segment, saying who sent what, what the numbers mean (why the ack is x + 1, what an ACK acknowledges),
which analysis flags fired and why, and the endpoints' RFC 9293 states. Unless ``verbose``, runs of ordinary
data and ACK segments are collapsed into one summary step; every notable event (a flag, a state change, the
first data and the first ACK of each side, an anomaly) stays visible. All wording comes from
:mod:`tcptrace.messages`, so a language is a catalogue, not code.

Renderers return strings (text, Markdown, HTML) or a JSON-ready dict; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import click

from .engine import HORIZON_NS, FinishedFlow, FlowStream
from .events import Event, Note, classify
from .messages import LANGUAGES
from .model import PlainRun, Segment, TcpOptions, is_run
from .output import path_text, printable, short_name
from .selection import Selection
from .stats import FlowSummary
from .vocab import HDR_BOGUS_LENGTH

M32 = 0xFFFFFFFF
COLLAPSE_MIN_RUN = 4  # a run of at least this many ordinary steps becomes one summary step
_PREVIEW_CHARS = 48
_SECTION = {"handshake": "section.handshake", "data": "section.data", "teardown": "section.teardown",
            "reset": "section.reset"}  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One step of a narrative: the frames it covers, what kind of event it is, and the sentence."""

    number: int
    frames: tuple[int, ...]
    kind: str
    phase: str
    text: str
    client_state: str
    server_state: str
    flags: tuple[str, ...] = ()
    notable: bool = True
    group: tuple[Any, ...] = ()  # ("dupack", direction, ack, number, frame): adjacent ones merge into one step
    facts: dict[str, Any] = field(default_factory=dict)  # the numbers the text states (tcptrace.events)
    notes: tuple[str, ...] = ()  # catalogue keys of what else the step says (flag.*, sack, backoff ...)

    def frame_label(self, lang: str = "en") -> str:
        t = LANGUAGES[lang]
        if len(self.frames) == 1:
            return f"{t['frame']} {self.frames[0]}"
        return f"{t['frames']} {self.frames[0]}–{self.frames[-1]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "frames": list(self.frames),
            "kind": self.kind,
            "phase": self.phase,
            "text": self.text,
            "client_state": self.client_state,
            "server_state": self.server_state,
            "flags": list(self.flags),
            "facts": _json_facts(self.facts),
            "notes": list(self.notes),
        }


def _step_with(step: Step, **changes: Any) -> Step:
    """``dataclasses.replace(step, **changes)`` without its per-call field walk (a narrative replaces each of its
    steps twice: the wording, the number; a capture's narratives, tens of thousands of times)."""
    new = object.__new__(Step)
    fields = new.__dict__
    fields.update(step.__dict__)
    fields.update(changes)
    return new


def _json_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready facts: numbers, strings, booleans and lists of them (payload and options objects are
    described by the text)."""
    out: dict[str, Any] = {}
    for k, v in facts.items():
        if isinstance(v, (bool, int, float, str)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v):
            out[k] = list(v)
    return out


@dataclass
class FlowNarrative:
    """The narrative of one stream. ``str()`` is the text; in Jupyter it displays as HTML."""

    stream: int
    client: str
    server: str
    lang: str
    header: str
    subheader: str
    verdict: str
    steps: list[Step]
    summary: dict[str, Any] = field(repr=False)
    hidden_steps: int = 0
    late_segments: int = 0  # segments that came after the stream ended and its story was told (explain streams)

    def __str__(self) -> str:
        return render_text(self)

    def _repr_html_(self) -> str:
        return f"<style>{_FLOW_CSS}</style>{render_html_flow(self)}"  # only .tcpflow rules: the notebook keeps its own

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "client": self.client,
            "server": self.server,
            "header": self.header,
            "subheader": self.subheader,
            "verdict": self.verdict,
            "steps": [s.to_dict() for s in self.steps],
            "hidden_steps": self.hidden_steps,
            "late_segments": self.late_segments,
            "summary": self.summary,
        }


@dataclass
class Narrative:
    """The narratives of a capture's streams. ``str()`` is the text; in Jupyter it displays as HTML."""

    capture: str
    lang: str
    flows: list[FlowNarrative]
    stats: dict[str, Any]
    streams_total: int = 0  # streams in the capture, selected or not
    missing: tuple[int, ...] = ()  # requested stream numbers the capture does not have

    def __str__(self) -> str:
        return render_text_all(self)

    def overview(self) -> dict[str, Any]:
        """How the selected connections ended, and which need attention (resets, retransmissions, anomalies,
        refused or unanswered), as counts and stream numbers."""
        return overview_of(f.summary for f in self.flows)

    def groups(self) -> list[list[FlowNarrative]]:
        """Short connections that went alike (the same steps in the same order, the same analysis flags and
        states, the same bytes each way, the same way of opening and ending; only addresses, ports and times
        differ) grouped under the first of them, so a capture of 40 identical requests reads as one story and a
        list of streams."""
        out: list[list[FlowNarrative]] = []
        first_of: dict[tuple[Any, ...], list[FlowNarrative]] = {}
        for f in self.flows:
            key = _shape(f) if len(f.steps) <= GROUP_MAX_STEPS else None
            if key is not None and key in first_of:
                first_of[key].append(f)
                continue
            out.append([f])
            if key is not None:
                first_of[key] = out[-1]
        return out

    def __iter__(self) -> Any:
        return iter(self.flows)

    def __len__(self) -> int:
        return len(self.flows)

    def __getitem__(self, i: int) -> FlowNarrative:
        return self.flows[i]

    def _repr_html_(self) -> str:
        return f"<style>{_FLOW_CSS}</style>" + "".join(render_html_flow(f) for f in self.flows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "capture": path_text(self.capture),  # a name that is not UTF-8 as \xNN, not as lone surrogates
            "lang": self.lang,
            "stats": self.stats,
            "overview": self.overview(),
            "flows": [f.to_dict() for f in self.flows],
        }


def ending(summary: dict[str, Any]) -> str:
    """How a connection ended, as the overview counts it: refused, unanswered_syn, graceful_close, reset ..."""
    s = summary
    return str(s["opened"] if s["opened"] in ("refused", "unanswered_syn") else s["closed"].split("_by_")[0])


def needs_attention(summary: dict[str, Any]) -> bool:
    """Resets, retransmissions, state-machine anomalies, a refusal or an unanswered SYN."""
    s = summary
    retrans = s["c2s"]["rexmt_packets"] + s["s2c"]["rexmt_packets"]
    return bool(s["resets"] or retrans or s["anomalies"] or ending(s) in ("refused", "unanswered_syn"))


def _ending(s: dict[str, Any]) -> tuple[str, bool]:
    """(:func:`ending`, :func:`needs_attention`): what :class:`ExplainDocument` keeps of a told stream."""
    return ending(s), needs_attention(s)


def overview_of(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """:meth:`Narrative.overview` from flow summaries (``FlowSummary.to_dict()``) alone."""
    return overview_of_endings((int(s["stream"]), *_ending(s)) for s in summaries)


def overview_of_endings(endings: Iterable[tuple[int, str, bool]]) -> dict[str, Any]:
    """:meth:`Narrative.overview` from (stream, ending, attention) in stream order."""
    ends: dict[str, int] = {}
    attention: list[int] = []
    connections = 0
    for stream, key, attend in endings:
        connections += 1
        ends[key] = ends.get(key, 0) + 1
        if attend:
            attention.append(stream)
    return {"connections": connections, "ended": ends, "attention": attention}


# --- building ------------------------------------------------------------------------------------------


def preview(payload: bytes, length: int, lang: str = "en") -> str:
    """A safe one-line preview: printable text quoted with control characters escaped, else hex."""
    t = LANGUAGES[lang]
    if not payload:
        return t["data.not_captured"] if length else ""
    cut = len(payload) < length
    text = payload[:_PREVIEW_CHARS]
    try:
        decoded = text.decode("utf-8")
        printable = all(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    except UnicodeDecodeError:
        printable = False
    more = "…" if (len(payload) > _PREVIEW_CHARS or cut) else ""
    if printable:
        shown = decoded.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
        return f'"{shown}"{more}'
    return "hex " + text[:16].hex(" ") + ("…" if len(payload) > 16 or cut else "")


def _dur(ns: int) -> str:
    if ns < 1_000_000:
        return f"{ns / 1e3:.0f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.3f} ms"
    return f"{ns / 1e9:.3f} s"


def _size(n: int, t: dict[str, str]) -> str:
    if n < 10_000:
        return f"{n:,} {t['bytes'] if n != 1 else t['byte']}"
    if n < 10_000_000:
        return f"{n / 1e3:.1f} kB"
    return f"{n / 1e6:.1f} MB"


class _Renderer:
    """Words the events of one stream (:func:`tcptrace.events.classify`) from the message catalogue."""

    def __init__(self, summary: FlowSummary, lang: str, absolute: bool) -> None:
        self.s = summary
        self.lang = lang
        self.t = LANGUAGES[lang]
        self.absolute = absolute
        self.sep = self.t["sep.join"]

    def role(self, direction: int, capital: bool = False) -> str:
        key = ("Client" if capital else "client") if direction == 0 else ("Server" if capital else "server")
        return self.t[key]

    def num(self, rel: int, raw: int) -> tuple[int, int]:
        return (raw, rel) if self.absolute else (rel, raw)

    def options(self, o: TcpOptions, header_truncated: bool) -> str:
        t = self.t
        items = []
        if o.mss is not None:
            items.append(t["opt.mss"].format(mss=o.mss))
        if o.wscale is not None:
            shift = min(o.wscale, 14)
            items.append(t["opt.ws"].format(shift=o.wscale, factor=1 << shift))
        if o.sack_permitted:
            items.append(t["opt.sack"])
        if o.tsval is not None:
            items.append(t["opt.ts"])
        cut = o.truncated or header_truncated
        if not items:
            return t["options.cut"] if cut else t["options.none"]
        text = t["options.list"].format(items=t["sep.list"].join(items))
        return text + self.sep + t["options.cut"] if cut else text

    def negotiated(self, f: dict[str, Any]) -> str:
        syn, synack = f.get("syn_options"), f["options"]
        if syn is None:
            return ""
        t = self.t
        if syn.truncated or synack.truncated or f.get("syn_header_truncated") or f["header_truncated"]:
            return self.sep + t["negotiated.unknown"]
        items = []
        if syn.wscale is not None and synack.wscale is not None:
            items.append(t["neg.ws.on"].format(c=1 << min(syn.wscale, 14), s=1 << min(synack.wscale, 14)))
        else:
            items.append(t["neg.ws.off"])
        items.append(t["neg.sack.on"] if syn.sack_permitted and synack.sack_permitted else t["neg.sack.off"])
        items.append(t["neg.ts.on"] if syn.tsval is not None and synack.tsval is not None else t["neg.ts.off"])
        if syn.mss is not None and synack.mss is not None:
            items.append(t["neg.mss"].format(mss=min(syn.mss, synack.mss)))
        return self.sep + t["negotiated"].format(items=t["sep.items"].join(items))

    def note(self, note: Note, who: str, other: str) -> str:
        fields = _format_facts(note.facts, self.t)
        if isinstance(note.facts.get("who"), int):
            fields["who"] = self.role(note.facts["who"])
            fields["other"] = self.role(1 - note.facts["who"])
        else:
            fields.setdefault("who", who)
            fields.setdefault("other", other)
        key = note.key
        if key.startswith("flag."):
            name = key[5:].split(".")[0]
            fields["why"] = _why(name, note.facts, self.lang)
        if key == "data.half_close":
            key += {"reads": ".reads", "reset": ".closed"}.get(str(note.facts.get("reads_on")), "")
        if key.startswith("retrans.") and not note.facts.get("has_carrier", True):
            key += ".uncaptured"
        if key == "backoff" and not note.facts.get("doubling"):
            key += ".irregular"
        if key == "step.states":
            fields.update(client_role=self.role(0, True), server_role=self.role(1, True))
        return self.t[key].format(**fields)  # a missing fact is a bug: tests/test_events.py words every note

    def render(self, e: Event) -> str:
        """The sentence of one event: its kind's main sentence (one method per kind below), then its notes."""
        f = e.facts
        d = e.direction
        seq, seq_alt = self.num(f.get("seq", 0), f.get("seq_raw", 0))
        ack, ack_alt = self.num(f.get("ack", 0), f.get("ack_raw", 0))
        alt = self.t["relative"] if self.absolute else self.t["raw"]
        c = _Ctx(e, f, _format_facts(f, self.t), self.role(d), self.role(1 - d), seq, seq_alt, ack, ack_alt, alt)
        words = _KIND_WORDING.get(e.kind)
        parts = words(self, c) if words is not None else []
        parts += [self.note(note, c.who, c.other) for note in e.notes]
        return self.sep.join(p.strip() for p in parts if p.strip())

    def _malformed(self, c: _Ctx) -> list[str]:
        key = "malformed.bogus_length" if c.f["error"] == HDR_BOGUS_LENGTH else "malformed.short_segment"
        return [self.t[key].format(who=c.who, hdr_len=c.f["hdr_len"], len=c.f["len"])]

    def _syn(self, c: _Ctx) -> list[str]:
        options = self.options(c.f["options"], c.f["header_truncated"])
        return [self.t["syn"].format(client=c.who, seq=c.seq, seq_raw=c.seq_alt, alt=c.alt, options=options)]

    def _syn_retransmission(self, c: _Ctx) -> list[str]:
        return [self.t["syn.retransmission"].format(client=c.who, **c.ff)]

    def _syn_ack(self, c: _Ctx) -> list[str]:
        options = self.options(c.f["options"], c.f["header_truncated"])
        text = self.t["syn_ack"].format(server=c.who, client=c.other, seq=c.seq, seq_raw=c.seq_alt, ack=c.ack,
                                        ack_raw=c.ack_alt, alt=c.alt, client_state=c.e.client_state,
                                        options=options)  # fmt: skip
        return [text + self.negotiated(c.f)]

    def _syn_ack_retransmission(self, c: _Ctx) -> list[str]:
        return [self.t["syn_ack.retransmission"].format(server=c.who, **c.ff)]

    def _handshake_ack(self, c: _Ctx) -> list[str]:
        t = self.t
        rtt = t["handshake.rtt"].format(rtt=_dur(c.f["irtt_ns"])) if c.f.get("irtt_ns") else ""
        return [t["handshake_ack"].format(client=c.who, seq=c.seq, ack=c.ack, ack_raw=c.ack_alt, alt=c.alt, rtt=rtt),
                t["handshake.backlog"].format(server=c.other)]  # fmt: skip

    def _refused(self, c: _Ctx) -> list[str]:
        f = c.f
        return [self.t["refused"].format(server=c.who, port=f["port"]),
                self.t["refused.numbers"].format(seq_raw=f["seq_raw"], seq=f["seq"], ack=f["ack"],
                                                 ack_raw=f["ack_raw"], syn_seq_raw=f["syn_seq_raw"])]  # fmt: skip

    def _reset(self, c: _Ctx) -> list[str]:
        cause = c.f["cause"]
        return [self.t["reset"].format(who=c.who, state=c.f["state"], cause=self.t.get("cause." + cause, cause))]

    def _fin_seq(self, c: _Ctx) -> int:
        return self.num(c.f["fin_seq"], (c.f["seq_raw"] + c.f["data_len"]) & M32)[0]

    def _fin(self, c: _Ctx) -> list[str]:
        f = c.f
        data = self.t["fin.data"].format(n=f["data_len"]) if f["data_len"] else ""
        key = "fin" if f["other_state"] in ("CLOSE_WAIT", "TIME_WAIT", "CLOSING") else "fin.in_flight"
        return [self.t[key].format(who=c.who, other=c.other, seq=self._fin_seq(c), data=data,
                                   who_state=f["who_state"], other_state=f["other_state"])]  # fmt: skip

    def _fin_second(self, c: _Ctx) -> list[str]:
        t, f = self.t, c.f
        acking = t["fin.acking"].format(other=c.other, ack=c.ack) if f["acking"] else ""
        out = [t["fin.second"].format(who=c.who, other=c.other, seq=self._fin_seq(c), acking=acking,
                                      who_state=f["who_state"], other_state=f["other_state"])]  # fmt: skip
        if f["crossed"]:
            out.append(t["fin.crossed"].format(who=c.who, other=c.other, ack=c.ack))
            if "CLOSING" in (f["who_state"], f["other_state"]):
                out.append(t["fin.simultaneous"])
        return out

    def _fin_retransmission(self, c: _Ctx) -> list[str]:
        t, f = self.t, c.f
        key = "fin.retransmission.ack_lost" if f["ack_lost"] else "fin.retransmission"
        out = [t[key].format(**{**c.ff, "who": c.who, "other": c.other, "seq": self._fin_seq(c),
                                "state": f["who_state"]})]  # fmt: skip
        if f.get("arrives"):
            out.append(t["fin.retransmission.arrives"].format(other=c.other, other_state=f["other_state"]))
        if len(f["intervals_ns"]) >= 2:
            out.append(t["backoff" if f["doubling"] else "backoff.irregular"].format(**c.ff))
        return out

    def _fin_ack(self, c: _Ctx) -> list[str]:
        t, f, e = self.t, c.f, c.e
        states = t["states"].format(client_role=self.role(0, True), client_state=e.client_state,
                                    server_role=self.role(1, True), server_state=e.server_state)  # fmt: skip
        out = [t["fin_ack.again" if f.get("again") else "fin_ack"].format(who=c.who, other=c.other, ack=c.ack,
                                                                           states=states)]  # fmt: skip
        if f.get("delayed_ns"):
            out.append(t["fin_ack.delayed"].format(rtt=_dur(f["delayed_ns"]), frame=f["acks_frame"]))
        return out

    def _data(self, c: _Ctx) -> list[str]:
        t, f = self.t, c.f
        n = f["len"]
        first, _ = self.num(f["first"], f["seq_raw"])
        last, _ = self.num(f["last"], (f["seq_raw"] + n - 1) & M32)
        return [t["data"].format(who=c.who, n=n, bytes_word=t["bytes"] if n != 1 else t["byte"], first=first,
                                 last=last, push=t["data.push"] if f["push"] else "",
                                 preview=preview(f["payload"], n, self.lang))]  # fmt: skip

    def _ack_kind(self, c: _Ctx) -> list[str]:
        return self._ack(c.e, c.who, c.other, c.ack)

    def _ack(self, e: Event, who: str, other: str, ack: int) -> list[str]:
        t = self.t
        f = e.facts
        if f.get("probe") or "keep_alive" in e.flags:
            if f.get("keepalive") and f.get("interval_ns"):
                return [t["keepalive.interval"].format(who=who, interval=_dur(f["interval_ns"]))]
            if f.get("keepalive") and f.get("idle_ns"):
                return [t["keepalive.first"].format(who=who, other=other, idle=_dur(f["idle_ns"]))]
            return []
        if "zero_window_probe_ack" in e.flags or "keep_alive_ack" in e.flags or f.get("sack_dupack"):
            return []
        if e.flags and not f.get("new"):
            return []  # a flagged ACK that acknowledges nothing new: its flag says what it is
        new = ""
        if f.get("new"):
            new = t["ack.new"].format(n=f["new"], bytes_word=t["bytes"] if f["new"] != 1 else t["byte"])
        rtt = ""
        if f.get("acks_frame"):
            rtt = t["ack.rtt"].format(rtt=_dur(f["rtt_ns"]), frame=f["acks_frame"])
            if f.get("delayed"):
                rtt += t["ack.delayed"]
        out = [t["ack"].format(who=who, other=other, ack=ack, upto=(ack - 1) & M32, new=new, rtt=rtt)]
        if "window" in f:
            out.append(t["ack.window"].format(who=who, win=f"{f['window']:,}", raw=f["window_raw"],
                                              factor=f["window_factor"]))  # fmt: skip
        return out

    def step(self, e: Event, text: str | None = None) -> Step:
        """The step of one event; ``text=""`` leaves the wording for later (most steps of a long transfer are
        collapsed into summaries and never worded)."""
        if e.kind == "run":  # a plain run (model.PlainRun): only ever counted into a summary step (_collapse)
            run = e.facts["run"]
            return Step(0, (run.frame, run.last_frame), "run", e.phase, "", e.client_state, e.server_state, (),
                        False, (), e.facts)  # fmt: skip
        return Step(0, (e.frame,), e.kind, e.phase, self.render(e) if text is None else text, e.client_state,
                    e.server_state, e.flags, e.notable, e.group, e.facts, tuple(n.key for n in e.notes))  # fmt: skip


@dataclass(frozen=True)
class _Ctx:
    """What every kind's wording needs: the event, its facts (raw and formatted), the roles, the numbers."""

    e: Event
    f: dict[str, Any]
    ff: dict[str, Any]
    who: str
    other: str
    seq: int
    seq_alt: int
    ack: int
    ack_alt: int
    alt: str


_KIND_WORDING: dict[str, Callable[[_Renderer, _Ctx], list[str]]] = {
    "syn": _Renderer._syn,
    "syn_retransmission": _Renderer._syn_retransmission,
    "syn_ack": _Renderer._syn_ack,
    "syn_ack_retransmission": _Renderer._syn_ack_retransmission,
    "handshake_ack": _Renderer._handshake_ack,
    "refused": _Renderer._refused,
    "reset": _Renderer._reset,
    "fin": _Renderer._fin,
    "fin_second": _Renderer._fin_second,
    "fin_retransmission": _Renderer._fin_retransmission,
    "fin_ack": _Renderer._fin_ack,
    "data": _Renderer._data,
    "ack": _Renderer._ack_kind,
    "malformed": _Renderer._malformed,
}  # other kinds (unanswered, linger) are told by their notes alone


def _format_facts(facts: dict[str, Any], t: dict[str, str]) -> dict[str, Any]:
    """Facts made ready for str.format: ``x_ns`` also as ``x`` (a duration), lists of them joined."""
    out: dict[str, Any] = {}
    for k, v in facts.items():
        out[k] = v
        if k.endswith("_ns"):
            name = k[:-3]
            if isinstance(v, list):
                out[name] = t["sep.items"].join(_dur(x) for x in v)
            elif isinstance(v, int):
                out[name] = _dur(v)
    return out


def _why(name: str, ev: dict[str, Any], lang: str) -> str:
    fields = {k: v for k, v in ev.items() if k != "why"}
    key = "why." + name
    if name == "keep_alive" and str(fields.get("len")) == "0":
        key += ".empty"  # no "0 byte(s)"
    try:
        return LANGUAGES[lang][key].format(**fields)
    except (KeyError, IndexError):
        return str(ev.get("why", ""))


class _Side:
    """What a summary step says of one side's segments in a run: how many, their first and last time; its data
    segments, bytes, first and last time; its ACKs that acknowledged new data."""

    __slots__ = ("acked", "bytes", "data", "first", "first_data", "last", "last_data", "n")

    def __init__(self) -> None:
        self.n = self.data = self.bytes = self.acked = 0
        self.first = self.last = self.first_data = self.last_data = 0

    def add(self, seg: Segment, acked_new: bool) -> None:
        ts = seg.ts_ns
        if not self.n:
            self.first = ts
        self.n += 1
        self.last = ts
        self.acked += acked_new
        if seg.len:
            if not self.data:
                self.first_data = ts
            self.data += 1
            self.bytes += seg.len
            self.last_data = ts

    def add_run(self, run: PlainRun, d: int) -> None:
        if not run.segments[d]:
            return
        if not self.n:
            self.first = run.first_ts_dir[d]
        self.n += run.segments[d]
        self.last = run.last_ts_dir[d]
        self.acked += run.acked_new[d]
        if run.data_segments[d]:
            if not self.data:
                self.first_data = run.first_data_ts[d]
            self.data += run.data_segments[d]
            self.bytes += run.data_bytes[d]
            self.last_data = run.last_data_ts[d]


def _collapse(steps: list[Step], lang: str, segs_by_frame: dict[int, Segment]) -> list[Step]:
    """Runs of at least COLLAPSE_MIN_RUN ordinary steps become one summary step (a plain run's step,
    model.PlainRun, counts its segments; it always comes after COLLAPSE_MIN_RUN - 1 ordinary ones)."""
    t = LANGUAGES[lang]
    out: list[Step] = []
    run: list[Step] = []

    def flush() -> None:
        if len(run) < COLLAPSE_MIN_RUN:
            assert all(s.kind != "run" for s in run), "a plain run after fewer than COLLAPSE_MIN_RUN - 1 ordinary steps"
            out.extend(run)
        else:
            sides = (_Side(), _Side())
            for s in run:
                if s.kind == "run":
                    sides[0].add_run(s.facts["run"], 0)
                    sides[1].add_run(s.facts["run"], 1)
                else:
                    x = segs_by_frame[s.frames[0]]
                    sides[x.direction].add(x, bool(s.facts.get("acked_new")))
            texts = []
            facts: dict[str, Any] = {}
            for d in (0, 1):
                mine = sides[d]
                if mine.data:
                    # ACKs from the peer that acknowledged new data (their ack moved forward), not every ACK
                    acks = sides[1 - d].acked
                    key = "summary" if acks > 1 else "summary.one" if acks else "summary.unacked"
                    texts.append(t[key].format(who=_role(d, t), other=_role(1 - d, t), size=_size(mine.bytes, t),
                                               n=mine.data, duration=_dur(mine.last_data - mine.first_data),
                                               acks=acks))  # fmt: skip
                    side = "c2s" if d == 0 else "s2c"
                    facts.update({f"{side}_bytes": mine.bytes, f"{side}_segments": mine.data, f"{side}_acked_by": acks})
            if not texts:
                for d in (0, 1):
                    if sides[d].n:
                        span = _dur(sides[d].last - sides[d].first)
                        texts.append(t["summary.ack_only"].format(who=_role(d, t), n=sides[d].n, duration=span))
            first, last = run[0], run[-1]
            out.append(Step(0, (first.frames[0], last.frames[-1]), "summary", first.phase, t["sep.join"].join(texts),
                            last.client_state, last.server_state, (), False, (), facts))  # fmt: skip
        run.clear()

    for step in steps:
        if step.notable or step.kind not in ("data", "ack", "run"):
            flush()
            out.append(step)
        else:
            run.append(step)
    flush()
    return _merge_groups(out, t)


def _merge_groups(steps: list[Step], t: dict[str, str]) -> list[Step]:
    """Adjacent duplicate ACKs of the same ack number become one step (a burst of dup ACKs is one event), and so
    do adjacent window updates of one side."""
    out: list[Step] = []
    i = 0
    while i < len(steps):
        step = steps[i]
        j = i + 1
        if step.group:
            # duplicate ACKs of one hole, with the sender's new data between them (loss recovery goes on)
            k, last_same = i + 1, i
            while k < len(steps):
                other = steps[k]
                if other.group[:3] == step.group[:3]:
                    last_same = k
                elif not (step.group[0] == "dupack" and other.kind in ("data", "summary") and not other.notable):
                    break
                k += 1
            j = last_same + 1
        if j - i >= 2:
            last = steps[j - 1]
            run = steps[i:j]
            if step.group[0] == "dupack":
                _, d, ack, _, frame = step.group
                between = [s for s in run if not s.group]
                run = [s for s in run if s.group]
                sack = sum(1 for s in run if "sack" in s.notes)
                numbers = [s.group[3] for s in run if s.group[3]]
                text = t["dupacks"].format(
                    who=_role(d, t),
                    n=len(run),
                    ack=ack,
                    frame=frame,
                    a=min(numbers) if numbers else 1,
                    b=(min(numbers) if numbers else 1) + len(run) - 1,
                )
                if sack:
                    text += t["sep.join"] + t["dupacks.sack"].format(n=sack)
                sender = "s2c" if d == 0 else "c2s"
                size = sum(int(s.facts.get("len", 0)) + int(s.facts.get(f"{sender}_bytes", 0)) for s in between)
                n_between = sum(int(s.facts.get(f"{sender}_segments", 1 if s.kind == "data" else 0)) for s in between)
                if between:
                    text += t["sep.join"] + t["dupacks.meanwhile"].format(
                        other=_role(1 - d, t), n=n_between, size=_size(size, t)
                    )
                facts = {"ack": ack, "count": len(run), "frame": frame, "with_sack": sack,
                         "data_segments_between": n_between, "data_bytes_between": size}  # fmt: skip
                flags: tuple[str, ...] = ("duplicate_ack",)
            else:
                _, d, _ = step.group
                text = t["winupdates"].format(who=_role(d, t), n=j - i)
                facts = {"count": j - i}
                flags = ("window_update",)
            out.append(Step(0, (step.frames[0], last.frames[0]), "ack", step.phase, text, last.client_state,
                            last.server_state, flags, True, (), facts))  # fmt: skip
        else:
            out.append(step)
        i = j
    return out


def _role(d: int, t: dict[str, str]) -> str:
    return t["client"] if d == 0 else t["server"]


_ORDER = {"handshake": 0, "data": 1, "teardown": 2, "reset": 3}


def _monotone_phases(steps: list[Step]) -> list[Step]:
    """A step's phase never goes back (data after a FIN, in a half-close, belongs to the teardown), so text
    sections, HTML sections and the JSON ``phase`` agree."""
    out = []
    top = -1
    for s in steps:
        rank = _ORDER[s.phase]
        if rank < top:
            s = _step_with(s, phase=next(p for p, r in _ORDER.items() if r == top))
        top = max(top, _ORDER[s.phase])
        out.append(s)
    return out


def _limit(steps: list[Step], max_steps: int, t: dict[str, str]) -> tuple[list[Step], int]:
    """At most ``max_steps`` steps, the teardown (or reset) kept: the cut comes from the middle."""
    if len(steps) <= max_steps:
        return steps, 0
    tail_start = next((i for i, s in enumerate(steps) if s.phase in ("teardown", "reset")), len(steps))
    tail = steps[tail_start:][: max_steps - 1] if max_steps > 1 else []
    head = steps[: max(max_steps - len(tail), 1)]
    if tail_start < len(head):
        head, tail = steps[:max_steps], []
    hidden = len(steps) - len(head) - len(tail)
    if not hidden:
        return head + tail, 0
    marker = Step(0, head[-1].frames[-1:], "hidden", head[-1].phase, t["truncated"].format(n=hidden),
                  head[-1].client_state, head[-1].server_state, (), False, (), {"hidden": hidden})  # fmt: skip
    return [*head, marker, *tail] if tail else [*head, marker], hidden


def narrate_flow(
    summary: FlowSummary,
    segs: list[Segment],
    lang: str = "en",
    *,
    verbose: bool = False,
    absolute: bool = False,
    max_steps: int | None = None,
    previous: FlowSummary | None = None,
    whole: Callable[[], list[Segment]] | None = None,
) -> FlowNarrative:
    """The narrative of one analysed stream (``segs`` in capture order, ``summary`` fed with them;
    ``previous``: the stream that used the same ports before, when this one reuses them). ``segs`` may hold
    plain runs (model.PlainRun, FlowStream(runs=True)); ``whole`` then gives the stream without them, for when
    the application's messages are told (every payload is read)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; available: {', '.join(LANGUAGES)}")
    t = LANGUAGES[lang]
    if whole is not None and _may_tell_app(summary, segs) and any(is_run(s) for s in segs):
        segs = whole()
    events = classify(summary, segs, previous)
    app = _app_of(summary, segs)
    if app is not None:
        events = _without_line_notes(events, app)
    renderer = _Renderer(summary, lang, absolute)
    if verbose:  # every segment worded: no plain runs (FlowStream(runs=False))
        assert all(e.kind != "run" for e in events), "plain runs in a verbose narrative"
        steps = [renderer.step(e) for e in events]
    else:
        unworded = [renderer.step(e, "") for e in events]
        event_of = {id(step): e for step, e in zip(unworded, events, strict=True)}
        steps = _collapse(unworded, lang, {s.frame: s for s in segs})
        steps = [_step_with(st, text=renderer.render(event_of[id(st)])) if id(st) in event_of else st
                 for st in steps]  # fmt: skip
    if app is not None:
        steps = _with_app_steps(steps, app, lang)
    steps = _monotone_phases(steps)
    hidden = 0
    if max_steps is not None:
        steps, hidden = _limit(steps, max_steps, t)
    steps = [_step_with(s, number=i + 1) for i, s in enumerate(steps)]
    d = summary.to_dict()
    flow = summary.flow
    guess = t["header.guess"] if flow.roles_guessed else ""
    header = t["header"].format(stream=flow.stream, client=d["client"], server=d["server"], guess=guess)
    duration = (segs[-1].ts_ns - segs[0].ts_ns) if segs else 0
    packets = len(segs) + sum(s.packets - 1 for s in segs if is_run(s))
    sub = t["header.duration"].format(packets=packets, duration=_dur(duration))
    verdict = summary.sentence(lang)
    return FlowNarrative(flow.stream, d["client"], d["server"], lang, header, sub, verdict, steps, d, hidden)


def explain(
    path: str | os.PathLike[str] | BinaryIO,
    stream: int | list[int] | None = None,
    lang: str = "en",
    *,
    verbose: bool = False,
    absolute: bool = False,
    max_steps: int | None = None,
    hosts: list[str] | None = None,
    ports: list[int] | None = None,
) -> Narrative:
    """Explain every TCP stream of a capture (or the given ``stream`` numbers), in ``lang`` ("en" or "zh").

    >>> n = explain("sample_pcaps/echo_ipv4.pcap")
    >>> n[0].steps[0].text.split(" with ")[0]
    'The client sends SYN'
    >>> "The ack is the client's seq + 1 because a SYN consumes one sequence number" in n[0].steps[1].text
    True
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; available: {', '.join(LANGUAGES)}")
    wanted = None if stream is None else ({stream} if isinstance(stream, int) else set(stream))
    selection = Selection.of(streams=wanted or (), hosts=hosts or (), ports=ports or ())  # host names fail here
    # Streaming (tcptrace.engine): each stream is told once it has ended and its packets are dropped, so memory
    # grows with the streams still open, not with the capture; the document lists them by stream number.
    fs = FlowStream(path, selection, runs=not verbose)  # plain segments counted in C when no step words them

    def tell(ff: FinishedFlow) -> FlowNarrative:
        return narrate_flow(ff.summary, ff.segments, lang, verbose=verbose, absolute=absolute,
                            max_steps=max_steps, previous=ff.previous, whole=lambda: fs.whole(ff))  # fmt: skip

    told = dict(fs.told(tell))
    for n, count in fs.late.items():
        told[n].late_segments = count
    streams_total = fs.streams_total
    missing = selection.missing(streams_total)
    flows = [told[n] for n in sorted(told)]
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(getattr(path, "name", "<stream>"))
    return Narrative(name, lang, flows, fs.stats.as_dict(), streams_total, missing)


# --- what the application said (tcptrace.applayer) ------------------------------------------------------

APP_TOLD = ("http", "tls", "dns")  # lines and length prefixes are told per segment by events' sticky notes
APP_MAX_STEPS = 12  # application steps per stream; the rest in one "more" step
_HELLOS = ("client_hello", "server_hello")


def _app_steps(app: Any, t: dict[str, str]) -> list[tuple[tuple[int, ...], str, dict[str, Any]]]:
    """(frames, sentence, facts) of each application step: one per HTTP, DNS or TLS hello message; TLS's
    other records of one side in a row as one step; messages in the same single segment as one more note."""
    out: list[tuple[tuple[int, ...], str, dict[str, Any]]] = []
    msgs = list(app.messages)
    i = 0
    while i < len(msgs):
        m = msgs[i]
        j = i + 1
        if m.protocol == "tls" and m.kind not in _HELLOS:
            while j < len(msgs) and msgs[j].direction == m.direction and msgs[j].kind not in _HELLOS:
                j += 1
        run = msgs[i:j]
        if len(out) == APP_MAX_STEPS:
            rest = len(msgs) - i + app.more
            last = max(f for x in msgs[i:] for f in x.frames)
            out.append(((last,), t["app.more"].format(n=rest), {"more": rest}))
            break
        text = _app_sentence(run, t)
        together = [x for x in msgs[j:] if x.direction == m.direction and x.frames == m.frames]
        if len(m.frames) == 1 and together and m.protocol in ("dns", "http") and not _told_together(msgs, i):
            framing = t["app.framing." + m.protocol]
            text += t["sep.join"] + t["app.together"].format(n=len(together) + 1, frame=m.frames[0], framing=framing)
        facts = {"protocol": m.protocol, "kind": m.kind, **{k: v for k, v in m.to_dict().items()
                                                             if k not in ("protocol", "kind")}}  # fmt: skip
        if len(run) > 1:
            facts["records"] = len(run)
            facts["bytes"] = sum(x.size for x in run)
        frames = [f for x in run for f in x.frames]
        out.append(((min(frames), max(frames)) if len(set(frames)) > 1 else (frames[0],), text, facts))
        i = j
    if app.protocol == "http":
        reqs = sum(1 for x in msgs if x.kind == "request")
        if reqs >= 2:
            last = max(f for x in msgs for f in x.frames)
            out.append(((last,), t["app.http.keepalive"].format(n=reqs), {"protocol": "http", "kind": "keep_alive",
                                                                        "requests": reqs}))  # fmt: skip
    return out


def _told_together(msgs: list[Any], i: int) -> bool:
    """An earlier message of the same side came in the same single segment (the note is on the first)."""
    m = msgs[i]
    return any(x.direction == m.direction and x.frames == m.frames for x in msgs[:i])


def _app_sentence(run: list[Any], t: dict[str, str]) -> str:
    m = run[0]
    f = {k: printable(v) if isinstance(v, str) else v for k, v in m.fields.items()}
    by_frame: dict[int, int] = {}
    for x in run:
        for fr, n in x.carried:
            by_frame[fr] = by_frame.get(fr, 0) + n
    carried = list(by_frame.items())
    size = _size(sum(x.size for x in run), t)
    if len(carried) == 1:
        segments = t["app.segments.one"]
    elif len(carried) <= 4:
        sizes = [f"{n:,}" for _, n in carried]
        segments = t["app.segments"].format(n=len(carried), sizes=t["sep.items"].join(sizes[:-1]) + t["sep.and"]
                                            + sizes[-1])  # fmt: skip
    else:
        frames = [fr for fr, _ in carried]
        segments = t["app.segments.many"].format(n=len(carried), first=min(frames), last=max(frames))
    who = _role(m.direction, t)
    who = who[:1].upper() + who[1:] if t is LANGUAGES["en"] else who
    common = {"who": _role(m.direction, t), "size": size, "segments": segments}
    if m.protocol == "http" and m.kind == "request":
        text = t["app.http.request"].format(method=f.get("method", "?"), path=f.get("path", "?"), **common)
    elif m.protocol == "http":
        body = ""
        if f.get("chunked"):
            body = t["app.http.body.chunked"].format(n=f"{f.get('body_bytes', 0):,}")
        elif f.get("body_bytes"):
            body = t["app.http.body.length"].format(n=f"{f['body_bytes']:,}")
        text = t["app.http.response"].format(status=f.get("status", "?"), reason=f.get("reason", ""), body=body,
                                             **common)  # fmt: skip
    elif m.kind == "client_hello":
        sni = t["app.tls.sni"].format(sni=f["sni"]) if f.get("sni") else ""
        text = t["app.tls.client_hello"].format(sni=sni, version=f.get("version", "?"), **common)
    elif m.kind == "server_hello":
        cipher = t["app.tls.cipher"].format(cipher=f["cipher_suite"]) if f.get("cipher_suite") else ""
        text = t["app.tls.server_hello"].format(version=f.get("version", "?"), cipher=cipher, **common)
    elif m.protocol == "tls":
        counts: dict[str, int] = {}
        for x in run:
            counts[x.kind] = counts.get(x.kind, 0) + 1
        kinds = t["sep.items"].join(f"{_TLS_KIND.get(k, k)} ×{n}" for k, n in counts.items())
        text = t["app.tls.records" if len(run) > 1 else "app.tls.record"].format(n=len(run), kinds=kinds, **common)
    elif m.kind == "query":
        text = t["app.dns.query"].format(name=f.get("name", "?"), type=f.get("type", "?"), id=f"{f.get('id', 0):#06x}",
                                         **common)  # fmt: skip
    else:
        n = int(f.get("answers", 0))
        answers = t["app.dns.answers" if n != 1 else "app.dns.answers.one"].format(n=n)
        text = t["app.dns.answer"].format(name=f.get("name", "?"), type=f.get("type", "?"), rcode=f.get("rcode", "?"),
                                          answers=answers, id=f"{f.get('id', 0):#06x}", **common)  # fmt: skip
    text = text[:1].upper() + text[1:]
    if not m.complete:
        text += t["sep.join"] + t["app.incomplete"]
    return text


_TLS_KIND = {
    "change_cipher_spec": "Change Cipher Spec",
    "alert": "Alert",
    "handshake": "Handshake",
    "application_data": "Application Data",
}  # fmt: skip (Wireshark's record names)


def _may_tell_app(summary: FlowSummary, segs: list[Segment]) -> bool:
    """applayer.may_be_http_tls_or_dns on this stream (a side's first payload: never in a plain run)."""
    from .applayer import may_be_http_tls_or_dns

    flow = summary.flow
    return may_be_http_tls_or_dns(segs, flow.halves[1].port, flow.halves[0].port)


def _app_of(summary: FlowSummary, segs: list[Segment]) -> Any:
    """What the application said on this stream, when it is HTTP, TLS or DNS (what explain tells), else None."""
    from .applayer import analyse

    if not _may_tell_app(summary, segs):
        return None
    flow = summary.flow
    app = analyse(segs, flow.halves[1].port, flow.halves[0].port)
    return app if app.protocol in APP_TOLD and app.messages else None


def _without_line_notes(events: list[Event], app: Any) -> list[Event]:
    """An HTTP message's header lines are not messages of their own: no sticky-packet note ("this segment carries
    4 newline-terminated messages") on a segment that carries HTTP."""
    frames = {f for m in app.messages for f in m.frames}
    return [dataclasses.replace(e, notes=tuple(n for n in e.notes if n.key != "sticky.several"))
            if e.frame in frames and any(n.key == "sticky.several" for n in e.notes) else e
            for e in events]  # fmt: skip


def _with_app_steps(steps: list[Step], app: Any, lang: str) -> list[Step]:
    """The data phase names what the application said (HTTP, TLS, DNS): each application step goes right after
    the step that carries the message's last frame."""
    t = LANGUAGES[lang]
    out = list(steps)
    for frames, text, facts in sorted(_app_steps(app, t), key=lambda a: a[0][-1]):  # stable: ties keep their order
        k = next((i for i, st in enumerate(out) if st.kind != "app" and st.frames[-1] >= frames[-1]), len(out) - 1)
        while k + 1 < len(out) and out[k + 1].kind == "app":
            k += 1
        ref = out[k]
        phase = ref.phase if ref.phase in ("data", "teardown") else "data"
        out.insert(k + 1, Step(0, frames, "app", phase, text, ref.client_state, ref.server_state, (), True, (),
                               facts))  # fmt: skip
    return out


GROUP_MAX_STEPS = 30  # only short connections are grouped: a long one's details matter on their own


def _shape(f: FlowNarrative) -> tuple[Any, ...]:
    s = f.summary
    steps = tuple((x.kind, x.flags, x.notes, x.client_state, x.server_state, x.facts.get("payload"),
                   x.text if x.kind == "app" else None) for x in f.steps)  # fmt: skip
    return (s["opened"], s["closed"], s["app_bytes"]["c2s"], s["app_bytes"]["s2c"], steps)


def _shape_key(f: FlowNarrative) -> bytes:
    """:func:`_shape` as a 16-byte digest, what :class:`ExplainDocument` keeps per stream to group them (the shape
    itself, every step's kind, flags, notes and states, cost ~1.3 KB a stream: on a capture 4x as long, 4x that).
    Its parts are strings, ints, bytes, None and tuples of them, whose repr is equal exactly when they are (the
    states as plain strings: a malformed segment's are TcpState members, equal to their values)."""
    opened, closed, c2s, s2c, steps = _shape(f)
    plain = tuple((*x[:3], str(x[3]), str(x[4]), *x[5:]) for x in steps)
    text = repr((opened, closed, c2s, s2c, plain))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def render_overview(nar: Narrative) -> str:
    """One paragraph before the flows: how many connections, how they ended, which need attention."""
    return render_overview_of(nar.overview(), nar.lang)


def render_overview_of(o: dict[str, Any], lang: str) -> str:
    """:func:`render_overview` of an :func:`overview_of` dict."""
    t = LANGUAGES[lang]
    ends = t["sep.items"].join(t["overview.end"].format(n=n, how=t["overview." + k]) for k, n in o["ended"].items())
    text = t["overview"].format(n=o["connections"], ends=ends)
    if o["attention"]:
        text += t["sep.join"] + t["overview.attention"].format(streams=_ranges(o["attention"]))
    return text


def _ranges(numbers: list[int]) -> str:
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def render_text_all(nar: Narrative, color: bool = False) -> str:
    """The whole narrative as text: the overview (for several connections), then each group of alike
    connections told once with a line naming the others."""
    t = LANGUAGES[nar.lang]
    out = []
    if len(nar.flows) > 1:
        out.append(render_overview(nar))
    for group in nar.groups():
        text = render_text(group[0], color=color)
        if len(group) > 1:
            others = _ranges([f.stream for f in group[1:]])
            key = "group.like" if len(group) > 2 else "group.like.one"
            text += "\n\n" + t[key].format(streams=others, n=len(group) - 1, stream=group[0].stream)
        out.append(text)
    return "\n\n".join(out)


# --- rendering -----------------------------------------------------------------------------------------


def _new_section(step: Step, shown: set[str]) -> bool:
    """A section heading opens when a phase first appears and does not go back (data after a FIN, in a
    half-close, stays under the teardown heading)."""
    if step.phase in shown:
        return False
    if shown and max(_ORDER[p] for p in shown) > _ORDER[step.phase]:
        return False
    shown.add(step.phase)
    return True


# Terminal styles per kind of text (click.style; shown only when colour is on: --color, or a terminal without
# NO_COLOR).
_STYLE: dict[str, dict[str, Any]] = {
    "section": {"fg": "cyan", "bold": True},
    "header": {"bold": True},
    "flag": {"fg": "red"},
    "dim": {"dim": True},
}


def render_text(n: FlowNarrative, color: bool = False) -> str:
    t = LANGUAGES[n.lang]

    def c(kind: str, s: str) -> str:
        return click.style(s, **_STYLE[kind]) if color else s

    lines = [c("header", n.header), f"  {n.subheader}{t['sep.sentence']}{t['verdict'].format(verdict=n.verdict)}"]
    shown: set[str] = set()
    for step in n.steps:
        if _new_section(step, shown):
            lines.append("")
            lines.append(c("section", t[_SECTION[step.phase]]))
        if step.kind == "hidden":
            lines.append(f"  {step.text}")
            continue
        label = f"[{step.frame_label(n.lang)}]"
        text = c("flag", step.text) if step.flags else step.text
        lines.append(f"  {step.number:>2}. {c('dim', label)} {text}")
    if n.late_segments:
        lines.append("  " + t["late"].format(n=n.late_segments, horizon=_dur(HORIZON_NS)))
    return "\n".join(lines)


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|"})


def _md(text: str) -> str:
    """Text for Markdown: HTML escaped as :func:`render_html` escapes it (a payload's ``<script>`` must not
    become a tag where Markdown is rendered), and Markdown's own markup characters backslash-escaped, so a
    payload cannot add emphasis, links or table cells either."""
    return html.escape(text, quote=False).translate(_MD_SPECIAL)


def render_markdown(nar: Narrative) -> str:
    out = [_md(render_overview(nar)) + "\n"] if len(nar.flows) > 1 else []
    out.extend(render_markdown_flow(n) for n in nar.flows)
    return "\n".join(out)


def render_markdown_flow(n: FlowNarrative) -> str:
    t = LANGUAGES[n.lang]
    verdict = _md(t["verdict"].format(verdict=n.verdict))
    out = [f"## {_md(n.header)}\n\n{_md(n.subheader + t['sep.sentence'])}**{verdict}**\n"]
    shown: set[str] = set()
    for step in n.steps:
        if _new_section(step, shown):
            out.append(f"\n### {_md(t[_SECTION[step.phase]])}\n")
        out.append(f"{step.number}. **{_md(step.frame_label(n.lang))}** — {_md(step.text)}")
    out.append("")
    return "\n".join(out)


_FLOW_CSS = """.tcpflow{border:1px solid #ddd;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
.tcpflow h2{font-size:1.1rem;margin:0 0 .3rem}.tcpflow .sub{color:#555;margin:0 0 .6rem}
.tcpflow h3{font-size:1rem;margin:.9rem 0 .3rem;color:#036}.tcpflow ol{margin:0;padding-left:2.2rem}
.tcpflow li{margin:.25rem 0}.tcpflow .fr{font-family:monospace;color:#666}.tcpflow .flag{color:#b00}
.tcpflow .st{font-family:monospace;font-size:.85em;color:#070}"""
_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45;color:#222}\n" + _FLOW_CSS
)


def render_html_flow(n: FlowNarrative, frame_href: Callable[[int], str | None] | None = None) -> str:
    """One flow's narrative as an HTML fragment. ``frame_href(frame)`` gives the link of a frame number (the
    report's packet rows), or None where there is nothing to link to."""
    t = LANGUAGES[n.lang]
    e = html.escape
    parts = [f'<div class="tcpflow"><h2>{e(n.header)}</h2>',
             f'<p class="sub">{e(n.subheader + t["sep.sentence"])}<b>{e(_verdict(n))}</b></p>']  # fmt: skip
    phase = None
    open_list = False
    for step in n.steps:
        if step.phase != phase and step.kind != "summary":
            if open_list:
                parts.append("</ol>")
            phase = step.phase
            parts.append(f'<h3>{e(t[_SECTION[phase]])}</h3><ol start="{step.number}">')
            open_list = True
        cls = ' class="flag"' if step.flags else ""
        label = e(step.frame_label(n.lang))
        href = frame_href(step.frames[0]) if frame_href is not None and step.frames else None
        if href is not None:
            label = f'<a href="{e(href)}">{label}</a>'
        parts.append(
            f'<li><span class="fr">[{label}]</span> <span{cls}>{e(step.text)}</span> '
            f'<span class="st">{e(step.client_state)} / {e(step.server_state)}</span></li>'
        )
    if open_list:
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def _verdict(n: FlowNarrative) -> str:
    return LANGUAGES[n.lang]["verdict"].format(verdict=n.verdict)


def render_html(nar: Narrative) -> str:
    body = "".join(render_html_flow(f) for f in nar.flows)
    if len(nar.flows) > 1:
        body = f'<p class="overview">{html.escape(render_overview(nar))}</p>' + body
    head, tail = _html_frame(nar.capture, nar.lang)
    return head + body + tail


def _html_frame(capture: str, lang: str) -> tuple[str, str]:
    """The page around the flows of :func:`render_html`."""
    title = html.escape(f"tcptrace explain {printable(path_text(short_name(capture)))}")
    html_lang = LANGUAGES[lang]["meta.html_lang"]
    head = (f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_CSS}</style></head><body><h1>{title}</h1>")  # fmt: skip
    return head, "</body></html>\n"


# --- the whole document, told as the capture is read ------------------------------------------------------


@dataclass(slots=True)
class _Told:
    """What the document keeps of one told stream: its place in the spool and what the overview and the grouping
    read (a few dozen bytes instead of the narrative's tens of kilobytes)."""

    stream: int
    ending: str
    attention: bool
    shape: int  # index of its shape among the distinct ones (-1: too long to group, or not grouped)
    offset: int
    size: int


class ExplainDocument:
    """``explain``'s output for every selected stream of a capture, built while the capture is read: each stream
    is narrated and rendered when it has ended (:meth:`tcptrace.engine.FlowStream.told`), its text goes to a
    temporary file, and only a :class:`_Told` stays in memory, so memory grows with the streams open at once,
    not with the capture. :meth:`pieces` then gives the document (the overview first, which needs every stream)
    byte for byte as :func:`render_text_all`, :func:`render_markdown`, :func:`render_html` or ``json.dumps`` of
    :meth:`Narrative.to_dict` give it for :func:`explain`'s :class:`Narrative`.

    >>> with ExplainDocument("sample_pcaps/port_reuse.pcap", fmt="markdown") as doc:
    ...     "".join(doc.pieces()) == render_markdown(explain("sample_pcaps/port_reuse.pcap")) + "\\n"
    True
    """

    FORMATS = ("text", "markdown", "json", "html")

    def __init__(
        self,
        path: str | os.PathLike[str] | BinaryIO,
        stream: list[int] | None = None,
        lang: str = "en",
        *,
        fmt: str = "text",
        color: bool = False,
        verbose: bool = False,
        absolute: bool = False,
        max_steps: int | None = None,
        hosts: list[str] | None = None,
        ports: list[int] | None = None,
        part: tuple[int, int, list[int] | None] | None = None,
    ) -> None:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown language {lang!r}; available: {', '.join(LANGUAGES)}")
        if fmt not in self.FORMATS:
            raise ValueError(f"unknown format {fmt!r}; available: {', '.join(self.FORMATS)}")
        self.lang, self.fmt = lang, fmt
        selection = Selection.of(streams=stream or (), hosts=hosts or (), ports=ports or ())
        # part: one part of the capture (tcptrace.parallel). runs: plain segments counted in C when no step words
        # them, except where JSON names each flow's files (a run does not say which files its segments came from)
        several = len(getattr(path, "paths", ())) > 1  # a CaptureSet, or a part's frames of them (PartCapture)
        fs = FlowStream(path, selection, part=part, runs=not verbose and not (fmt == "json" and several))
        # several files read as one (capture.MergedReader): each flow's JSON names the files its packets came from
        files: list[str] | None = None  # the JSON's "files" of the flow being told (several files read as one)

        def files_of(ff: FinishedFlow) -> list[str] | None:
            """The files ``ff``'s packets came from, in reading order, when several were read (capture.MergedReader);
            asked of the capture told() reads (fs.capture), once it is reading."""
            if not several:
                return None
            capture = fs.capture  # capture.MergedReader, or a part's frames of the files (PartCapture)
            names = {capture.locate(seg.frame)[0] for seg in ff.segments}
            return [path_text(p) for p in capture.paths if p in names]

        def to_json(n: FlowNarrative) -> str:
            doc = n.to_dict() if files is None else {**n.to_dict(), "files": files}
            return json.dumps(doc, indent=2, ensure_ascii=False).replace("\n", "\n    ")

        render: Callable[[FlowNarrative], str] = {
            "text": lambda n: render_text(n, color=color),
            "markdown": render_markdown_flow,
            "html": render_html_flow,
            "json": to_json,
        }[fmt]

        def tell(ff: FinishedFlow) -> tuple[str, bool, Any, str]:
            nonlocal files
            n = narrate_flow(ff.summary, ff.segments, lang, verbose=verbose, absolute=absolute,
                             max_steps=max_steps, previous=ff.previous, whole=lambda: fs.whole(ff))  # fmt: skip
            shape = _shape_key(n) if fmt == "text" and len(n.steps) <= GROUP_MAX_STEPS else None
            if fmt == "json":
                files = files_of(ff)
            return (*_ending(n.summary), shape, render(n))

        self._spool = tempfile.TemporaryFile()  # noqa: SIM115 (read back by pieces(), closed with the document)
        self._told: list[_Told] = []
        shapes: dict[Any, int] = {}
        self._shapes: list[Any] = []  # shape id -> shape (for merging the documents of parts)
        offset = 0
        try:
            for n, (ending, attention, shape, text) in fs.told(tell):
                data = text.encode("utf-8", "surrogatepass")
                self._spool.write(data)
                shape_id = -1 if shape is None else shapes.setdefault(shape, len(shapes))
                if shape_id == len(self._shapes):
                    self._shapes.append(shape)
                self._told.append(_Told(n, ending, attention, shape_id, offset, len(data)))
                offset += len(data)
        except BaseException:
            self._spool.close()
            raise
        self._told.sort(key=lambda x: x.stream)
        self.late = dict(fs.late)
        self.streams_total = fs.streams_total
        self.missing = selection.missing(self.streams_total)
        self.stats = fs.stats.as_dict()
        self.capture = (
            os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(getattr(path, "name", "<stream>"))
        )

    def __len__(self) -> int:
        return len(self._told)

    def told(self) -> list[tuple[int, str, bool, Any, str]]:
        """Each told stream, in stream order: its number, ending, whether it needs attention, its shape (None: not
        grouped) and its text (what :meth:`merged` takes from the documents of a capture's parts)."""
        return [(f.stream, f.ending, f.attention, self._shapes[f.shape] if f.shape >= 0 else None, self._text(f))
                for f in self._told]  # fmt: skip

    def save_spool(self, path: str) -> list[tuple[int, str, bool, Any, tuple[int, int]]]:
        """:meth:`told` with each text left in a copy of the spool written to ``path``: (offset, size) there in its
        place (a part in a local process: tcptrace.parallel)."""
        import shutil

        self._spool.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(self._spool, out)
        return [(f.stream, f.ending, f.attention, self._shapes[f.shape] if f.shape >= 0 else None, (f.offset, f.size))
                for f in self._told]  # fmt: skip

    @classmethod
    def merged(
        cls, capture: str, lang: str, fmt: str, told: Iterable[tuple[int, str, bool, Any, str]], late: dict[int, int],
        stats: dict[str, Any], streams_total: int,
    ) -> ExplainDocument:  # fmt: skip
        """The document of a whole capture from its parts' :meth:`told` (merged in stream order), late segments and
        reader statistics (tcptrace.parallel): what reading the capture in one pass gives."""
        doc = cls.__new__(cls)
        doc.lang, doc.fmt = lang, fmt
        doc._spool = tempfile.TemporaryFile()  # noqa: SIM115 (read back by pieces(), closed with the document)
        doc._told, doc._shapes = [], []
        shapes: dict[Any, int] = {}
        offset = 0
        for n, ending, attention, shape, text in told:
            data = text.encode("utf-8", "surrogatepass")
            doc._spool.write(data)
            shape_id = -1 if shape is None else shapes.setdefault(shape, len(shapes))
            doc._told.append(_Told(n, ending, attention, shape_id, offset, len(data)))
            offset += len(data)
        doc.late = dict(late)
        doc.streams_total = streams_total
        doc.missing = ()
        doc.stats = stats
        doc.capture = capture
        return doc

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> ExplainDocument:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _text(self, f: _Told) -> str:
        self._spool.seek(f.offset)
        return self._spool.read(f.size).decode("utf-8", "surrogatepass")

    def overview(self) -> dict[str, Any]:
        return overview_of_endings((f.stream, f.ending, f.attention) for f in self._told)

    def pieces(self) -> Iterator[str]:
        """The document in pieces, each stream's read back from the spool in stream order (what the command
        prints, final newline included)."""
        t = LANGUAGES[self.lang]
        several = len(self._told) > 1
        if self.fmt == "text":
            yield from self._text_pieces(t, several)
        elif self.fmt == "markdown":
            sep = ""
            if several:
                yield _md(render_overview_of(self.overview(), self.lang)) + "\n"
                sep = "\n"
            for f in self._told:
                yield sep + self._text(f)
                sep = "\n"
            yield "\n"
        elif self.fmt == "html":
            head, tail = _html_frame(self.capture, self.lang)
            yield head
            if several:
                yield f'<p class="overview">{html.escape(render_overview_of(self.overview(), self.lang))}</p>'
            for f in self._told:
                yield self._text(f)
            yield tail
        else:
            yield from self._json_pieces()

    def _text_pieces(self, t: dict[str, str], several: bool) -> Iterator[str]:
        members: dict[int, list[int]] = {}  # the first stream of each shape -> the streams like it
        first_of: dict[int, int] = {}
        heads: list[_Told] = []
        for f in self._told:
            if f.shape >= 0 and f.shape in first_of:
                members[first_of[f.shape]].append(f.stream)
                continue
            heads.append(f)
            if f.shape >= 0:
                first_of[f.shape] = f.stream
                members[f.stream] = []
        sep = ""
        if several:
            yield render_overview_of(self.overview(), self.lang)
            sep = "\n\n"
        for f in heads:
            text = self._text(f)
            late = self.late.get(f.stream)
            if late:  # told before the capture ended: its late segments are known only now
                text += "\n  " + t["late"].format(n=late, horizon=_dur(HORIZON_NS))
            others = members.get(f.stream)
            if others:
                key = "group.like" if len(others) > 1 else "group.like.one"
                text += "\n\n" + t[key].format(streams=_ranges(others), n=len(others), stream=f.stream)
            yield sep + text
            sep = "\n\n"
        footer = t["footer"].format(frames=f"{self.stats['frames']:,}", segments=f"{self.stats['tcp_segments']:,}")
        yield "\n\n" + footer + "\n"

    def _json_pieces(self) -> Iterator[str]:
        head = {"capture": path_text(self.capture), "lang": self.lang, "stats": self.stats,
                "overview": self.overview(), "flows": []}  # fmt: skip
        text = json.dumps(head, indent=2, ensure_ascii=False)
        if not self._told:
            yield text + "\n"
            return
        yield text[: -len("[]\n}")] + "[\n"
        sep = ""
        for f in self._told:
            flow = self._text(f)
            late = self.late.get(f.stream)
            if late:  # json.dumps wrote 0: the stream was told before its late segments came
                flow = flow.replace('\n      "late_segments": 0,\n', f'\n      "late_segments": {late},\n', 1)
            yield sep + "    " + flow
            sep = ",\n"
        yield "\n  ]\n}\n"


__all__ = ["ExplainDocument", "FlowNarrative", "Narrative", "Step", "explain", "narrate_flow", "preview", "render_html",
           "render_markdown", "render_text"]  # fmt: skip
