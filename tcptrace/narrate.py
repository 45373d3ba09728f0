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

import html
import itertools
import os
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from .analysis import analysis_names
from .messages import LANGUAGES
from .model import ACK, FIN, PSH, RST, SYN, Segment
from .stats import FlowSummary, Pipeline

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
        }


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

    def __str__(self) -> str:
        return render_text(self)

    def _repr_html_(self) -> str:
        return render_html_flow(self)

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
            "summary": self.summary,
        }


@dataclass
class Narrative:
    """The narratives of a capture's streams. ``str()`` is the text; in Jupyter it displays as HTML."""

    capture: str
    lang: str
    flows: list[FlowNarrative]
    stats: dict[str, Any]

    def __str__(self) -> str:
        return "\n\n".join(render_text(f) for f in self.flows)

    def __iter__(self) -> Any:
        return iter(self.flows)

    def __len__(self) -> int:
        return len(self.flows)

    def __getitem__(self, i: int) -> FlowNarrative:
        return self.flows[i]

    def _repr_html_(self) -> str:
        return "".join(render_html_flow(f) for f in self.flows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "capture": self.capture,
            "lang": self.lang,
            "stats": self.stats,
            "flows": [f.to_dict() for f in self.flows],
        }


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


class _Builder:
    def __init__(self, summary: FlowSummary, segs: list[Segment], lang: str, absolute: bool) -> None:
        self.s = summary
        self.segs = segs
        self.lang = lang
        self.t = LANGUAGES[lang]
        self.absolute = absolute
        self.steps: list[Step] = []
        self.syn_times: list[int] = []
        self.synack_times: list[int] = []
        self.fin_seen = [False, False]
        self.fin_next: list[int | None] = [None, None]
        self.last_ack = [-1, -1]
        self.first_data = [True, True]
        self.first_ack = [True, True]
        self.states = ("UNKNOWN", "UNKNOWN")
        self.time_wait_told = False
        self.stream_note_told = False
        self.after_syn = [False, False]  # the side's previous segment was its SYN (window not scaled yet)
        self.sep = "" if lang == "zh" else " "  # between sentences
        self.anomalies: dict[int, list[str]] = {}
        for a in summary.anomalies:
            self.anomalies.setdefault(a["frame"], []).append(a["text"])

    def role(self, direction: int, capital: bool = False) -> str:
        key = ("Client" if capital else "client") if direction == 0 else ("Server" if capital else "server")
        return self.t[key]

    def num(self, rel: int, raw: int) -> tuple[int, int]:
        return (raw, rel) if self.absolute else (rel, raw)

    def options(self, seg: Segment) -> str:
        t = self.t
        o = seg.options
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
        cut = o.truncated or seg.header_truncated
        if not items:
            return t["options.cut"] if cut else t["options.none"]
        sep = "；" if self.lang == "zh" else "; "
        text = t["options.list"].format(items=sep.join(items))
        return text + self.sep + t["options.cut"] if cut else text

    def negotiated(self, syn: Segment | None, synack: Segment) -> str:
        if syn is None:
            return ""
        t = self.t
        a, b = syn.options, synack.options
        if a.truncated or b.truncated or syn.header_truncated or synack.header_truncated:
            return self.sep + t["negotiated.unknown"]
        items = []
        if a.wscale is not None and b.wscale is not None:
            items.append(t["neg.ws.on"].format(c=1 << min(a.wscale, 14), s=1 << min(b.wscale, 14)))
        else:
            items.append(t["neg.ws.off"])
        items.append(t["neg.sack.on"] if a.sack_permitted and b.sack_permitted else t["neg.sack.off"])
        items.append(t["neg.ts.on"] if a.tsval is not None and b.tsval is not None else t["neg.ts.off"])
        if a.mss is not None and b.mss is not None:
            items.append(t["neg.mss"].format(mss=min(a.mss, b.mss)))
        sep = "，" if self.lang == "zh" else ", "
        return self.sep + t["negotiated"].format(items=sep.join(items))

    def build(self) -> list[Step]:
        t = self.t
        first_syn: Segment | None = None
        refused = self.s.opened() == "refused"
        rst_by_frame = {f: (st, cause) for _, f, st, cause, _ in self.s.rst}
        for seg in self.segs:
            d = seg.direction
            who, other = self.role(d), self.role(1 - d)
            flags = seg.flags
            names = list(analysis_names(seg.analysis))
            if "fast_retransmission" in names or "spurious_retransmission" in names:
                names.remove("retransmission")  # said by the more specific kind
            seq, seq_alt = self.num(seg.seq, seg.seq_raw)
            ack, ack_alt = self.num(seg.ack, seg.ack_raw)
            alt = t["relative"] if self.absolute else t["raw"]
            parts: list[str] = []
            described_states = True
            kind = "ack"
            if flags & RST:
                if refused and d == 1 and seg.frame == self.s.rst[0][1]:
                    kind = "refused"
                    parts.append(t["refused"].format(server=self.role(1), port=self.s.flow.server.port))
                else:
                    kind = "reset"
                    state, cause = rst_by_frame.get(seg.frame, (str(seg.client_state), ""))
                    parts.append(t["reset"].format(who=who, state=state, cause=t.get("cause." + cause, cause)))
            elif flags & SYN and not flags & ACK:
                if not self.syn_times:
                    kind = "syn"
                    first_syn = seg
                    parts.append(
                        t["syn"].format(client=who, seq=seq, seq_raw=seq_alt, alt=alt, options=self.options(seg))
                    )
                else:
                    kind = "syn_retransmission"
                    delay = seg.ts_ns - self.syn_times[-1]
                    times = [*self.syn_times, seg.ts_ns]
                    intervals = ", ".join(_dur(b - a) for a, b in itertools.pairwise(times))
                    parts.append(t["syn.retransmission"].format(client=who, delay=_dur(delay), intervals=intervals))
                    names = [n for n in names if n != "retransmission"]
                self.syn_times.append(seg.ts_ns)
            elif flags & SYN:
                if not self.synack_times:
                    kind = "syn_ack"
                    text = t["syn_ack"].format(
                        server=who,
                        client=other,
                        seq=seq,
                        seq_raw=seq_alt,
                        ack=ack,
                        ack_raw=ack_alt,
                        alt=alt,
                        client_state=seg.client_state,
                        options=self.options(seg),
                    )
                    parts.append(text + self.negotiated(first_syn, seg))
                else:
                    kind = "syn_ack_retransmission"
                    delay = seg.ts_ns - self.synack_times[-1]
                    parts.append(t["syn_ack.retransmission"].format(server=who, delay=_dur(delay)))
                    names = [n for n in names if n != "retransmission"]
                self.synack_times.append(seg.ts_ns)
            elif seg.phase == "handshake":
                kind = "handshake_ack"
                fa = self.s.flow.analysis
                rtt = ""
                if fa is not None and fa.ts_first_rtt and self.syn_times:
                    rtt = t["handshake.rtt"].format(rtt=_dur(fa.ts_first_rtt))
                parts.append(t["handshake_ack"].format(client=who, seq=seq, ack=ack, ack_raw=ack_alt, alt=alt,
                                                       rtt=rtt))  # fmt: skip
            elif flags & FIN:
                # the three-segment close: this FIN is also the first acknowledgement of the peer's FIN
                acking = self.s.fin_acked[1 - d] == seg.frame
                who_state = str(seg.client_state if d == 0 else seg.server_state)
                other_state = str(seg.server_state if d == 0 else seg.client_state)
                if not self.fin_seen[1 - d]:
                    kind = "fin"
                    data = t["fin.data"].format(n=seg.len) if seg.len else ""
                    parts.append(t["fin"].format(who=who, other=other, seq=seq, data=data, who_state=who_state,
                                                 other_state=other_state))  # fmt: skip
                else:
                    kind = "fin_second"
                    ack_txt = t["fin.acking"].format(other=other, ack=ack) if acking else ""
                    parts.append(t["fin.second"].format(who=who, other=other, seq=seq, acking=ack_txt,
                                                        who_state=who_state, other_state=other_state))  # fmt: skip
                    if "CLOSING" in (who_state, other_state):
                        parts.append(t["fin.simultaneous"])
                    if other_state == "TIME_WAIT" and not self.time_wait_told:
                        parts.append(t["time_wait"].format(who=other))
                        self.time_wait_told = True
                self.fin_seen[d] = True
                self.fin_next[d] = (seg.seq_raw + seg.len + 1) & M32
            elif seg.len:
                kind = "data"
                described_states = False
                last = (seq + seg.len - 1) & M32
                push = t["data.push"] if flags & PSH else ""
                parts.append(t["data"].format(who=who, n=seg.len, bytes_word=t["bytes"] if seg.len != 1 else t["byte"],
                                              first=seq, last=last, push=push,
                                              preview=preview(seg.payload, seg.len, self.lang)))  # fmt: skip
                prev_ack = self.last_ack[d]
                if flags & ACK and prev_ack >= 0 and seg.ack != prev_ack:
                    n_acked = (seg.ack - prev_ack) & M32
                    if self.fin_next[1 - d] is not None and seg.ack_raw == self.fin_next[1 - d]:
                        parts.append(t["data.piggyback_fin"].format(other=other, ack=ack))
                    else:
                        parts.append(t["data.piggyback"].format(other=other, upto=(ack - 1) & M32, n=n_acked))
                if self.fin_seen[1 - d] and not self.fin_seen[d] and self.first_data[d] is not None:
                    parts.append(t["data.half_close"].format(who=who, other=other))
                    self.first_data[d] = None  # type: ignore[call-overload]
                if not self.stream_note_told and seg.len > 1:
                    # Once per flow: the receiver sees bytes, not send() calls (the "sticky packet" effect).
                    parts.append(t["coalesced"].format(n=seg.len))
                    self.stream_note_told = True
            else:
                fin_next = self.fin_next[1 - d]
                if fin_next is not None and flags & ACK and seg.ack_raw == fin_next:
                    kind = "fin_ack"
                    both = t["states"].format(
                        client_role=self.role(0, True),
                        client_state=seg.client_state,
                        server_role=self.role(1, True),
                        server_state=seg.server_state,
                    )
                    parts.append(t["fin_ack"].format(who=who, other=other, ack=ack, states=both))
                    if seg.acks_frame and seg.ack_rtt_ns >= 0 and self._delayed(seg):
                        parts.append(t["fin_ack.delayed"].format(rtt=_dur(seg.ack_rtt_ns), frame=seg.acks_frame))
                    mine = str(seg.client_state if d == 0 else seg.server_state)
                    theirs = str(seg.server_state if d == 0 else seg.client_state)
                    if mine == "TIME_WAIT" and not self.time_wait_told:
                        parts.append(t["time_wait"].format(who=who))
                        self.time_wait_told = True
                    _ = theirs
                    self.fin_next[1 - d] = None
                elif flags & ACK:
                    kind = "ack"
                    described_states = False
                    prev = self.last_ack[d]
                    new = ""
                    if prev >= 0 and seg.ack != prev:
                        n = (seg.ack - prev) & M32
                        new = t["ack.new"].format(n=n, bytes_word=t["bytes"] if n != 1 else t["byte"])
                    rtt = ""
                    if seg.acks_frame and seg.ack_rtt_ns >= 0:
                        rtt = t["ack.rtt"].format(rtt=_dur(seg.ack_rtt_ns), frame=seg.acks_frame)
                        if self._delayed(seg):
                            rtt += t["ack.delayed"]
                    if not (names and prev == seg.ack):  # a keep-alive or probe repeats the ack: say only that
                        parts.append(t["ack"].format(who=who, other=other, ack=ack, upto=(ack - 1) & M32, new=new,
                                                     rtt=rtt))  # fmt: skip
            if flags & ACK:
                self.last_ack[d] = seg.ack
            for name in names:
                ev = (seg.evidence or {}).get(name, {})
                if name == "window_update":
                    parts.append(self._window_update(seg, ev, who))
                else:
                    parts.append(self._flag(name, ev, who, other))
            self.after_syn[d] = bool(flags & SYN)
            if seg.duplicate_of:
                dup_ev = (seg.evidence or {}).get("duplicate", {})
                parts.append(t["flag.duplicate"].format(why=_why("duplicate", dup_ev, self.lang)))
            now_states = (str(seg.client_state), str(seg.server_state))
            changed = now_states != self.states
            if changed and not described_states:
                parts.append(
                    t["step.states"].format(
                        client_role=self.role(0, True),
                        client_state=now_states[0],
                        server_role=self.role(1, True),
                        server_state=now_states[1],
                    )
                )
            for text in self.anomalies.get(seg.frame, []):
                parts.append(t["anomaly"].format(text=text))
            notable = bool(names or seg.duplicate_of or changed or kind not in ("data", "ack"))
            if kind == "data" and self.first_data[d]:
                notable = True
                self.first_data[d] = False
            if kind == "ack" and self.first_ack[d]:
                notable = True
                self.first_ack[d] = False
            self.states = now_states
            text = self.sep.join(p.strip() for p in parts)
            group: tuple[Any, ...] = ()
            if kind == "ack" and names == ["duplicate_ack"] and not changed and seg.evidence:
                e = seg.evidence["duplicate_ack"]
                group = ("dupack", d, ack, e["number"], e["frame"])
            step = Step(0, (seg.frame,), kind, seg.phase, text, *now_states, tuple(names), notable, group)
            self.steps.append(step)
        if self.s.opened() in ("unanswered_syn",) and self.steps:
            final = self.steps[-1]
            self.steps.append(
                Step(
                    0, final.frames, "unanswered", "handshake", t["unanswered"], final.client_state, final.server_state
                )
            )
        return self.steps

    def _window_update(self, seg: Segment, ev: dict[str, Any], who: str) -> str:
        t = self.t
        why = _why("window_update", ev, self.lang)
        if self.after_syn[seg.direction] and seg.win_scale > 0:
            factor = 1 << seg.win_scale
            return t["flag.window_update.after_syn"].format(why=why, who=who, factor=factor, raw=seg.win_raw,
                                                            scaled=seg.win)  # fmt: skip
        old = ev.get("old")
        if isinstance(old, str) and old.isdigit() and int(old) > seg.win_raw:
            return t["flag.window_update.shrink"].format(why=why, who=who)
        return t["flag.window_update"].format(why=why, who=who)

    def _delayed(self, seg: Segment) -> bool:
        fa = self.s.flow.analysis
        irtt = fa.ts_first_rtt if fa is not None else 0
        return seg.ack_rtt_ns >= 30_000_000 and seg.ack_rtt_ns > 4 * max(irtt, 1)

    def _flag(self, name: str, ev: dict[str, Any], who: str, other: str) -> str:
        t = self.t
        why = _why(name, ev, self.lang) if ev else ""
        return t["flag." + name].format(why=why, who=who, other=other)


def _why(name: str, ev: dict[str, Any], lang: str) -> str:
    fields = {k: v for k, v in ev.items() if k != "why"}
    try:
        return LANGUAGES[lang]["why." + name].format(**fields)
    except (KeyError, IndexError):
        return str(ev.get("why", ""))


def _collapse(steps: list[Step], lang: str, segs_by_frame: dict[int, Segment]) -> list[Step]:
    """Runs of at least COLLAPSE_MIN_RUN ordinary steps become one summary step."""
    t = LANGUAGES[lang]
    out: list[Step] = []
    run: list[Step] = []

    def flush() -> None:
        if len(run) < COLLAPSE_MIN_RUN:
            out.extend(run)
        else:
            segs = [segs_by_frame[s.frames[0]] for s in run]
            texts = []
            for d in (0, 1):
                mine = [x for x in segs if x.direction == d]
                data = [x for x in mine if x.len]
                acks = _new_acks([x for x in segs if x.direction != d and x.flags & ACK])
                if data:
                    texts.append(
                        t["summary"].format(
                            who=_role(d, t),
                            other=_role(1 - d, t),
                            size=_size(sum(x.len for x in data), t),
                            n=len(data),
                            duration=_dur(data[-1].ts_ns - data[0].ts_ns),
                            acks=len(acks),
                        )
                    )
            if not texts:
                for d in (0, 1):
                    mine = [x for x in segs if x.direction == d]
                    if mine:
                        span = _dur(mine[-1].ts_ns - mine[0].ts_ns)
                        texts.append(t["summary.ack_only"].format(who=_role(d, t), n=len(mine), duration=span))
            sep = "" if lang == "zh" else " "
            first, last = run[0], run[-1]
            out.append(Step(0, (first.frames[0], last.frames[0]), "summary", first.phase, sep.join(texts),
                            last.client_state, last.server_state, (), False))  # fmt: skip
        run.clear()

    for step in steps:
        if step.notable or step.kind not in ("data", "ack"):
            flush()
            out.append(step)
        else:
            run.append(step)
    flush()
    return _merge_dupacks(out, t)


def _merge_dupacks(steps: list[Step], t: dict[str, str]) -> list[Step]:
    """Adjacent duplicate ACKs of the same ack number become one step (a burst of dup ACKs is one event)."""
    out: list[Step] = []
    i = 0
    while i < len(steps):
        step = steps[i]
        j = i + 1
        if step.group:
            while j < len(steps) and steps[j].group[:3] == step.group[:3]:
                j += 1
        if j - i >= 2:
            last = steps[j - 1]
            _, d, ack, first_n, frame = step.group
            text = t["dupacks"].format(who=_role(d, t), n=j - i, a=first_n, b=last.group[3], ack=ack, frame=frame)
            out.append(Step(0, (step.frames[0], last.frames[0]), "ack", step.phase, text, last.client_state,
                            last.server_state, ("duplicate_ack",), True))  # fmt: skip
        else:
            out.append(step)
        i = j
    return out


def _new_acks(segs: list[Segment]) -> list[Segment]:
    """The segments (pure ACKs or data) whose ACK number moved forward: the ones that acknowledge new data."""
    out: list[Segment] = []
    prev: int | None = None
    for x in segs:
        if x.ack != prev:
            out.append(x)
            prev = x.ack
    return out


def _role(d: int, t: dict[str, str]) -> str:
    return t["client"] if d == 0 else t["server"]


def narrate_flow(
    summary: FlowSummary,
    segs: list[Segment],
    lang: str = "en",
    *,
    verbose: bool = False,
    absolute: bool = False,
    max_steps: int | None = None,
) -> FlowNarrative:
    """The narrative of one analysed stream (``segs`` in capture order, ``summary`` fed with them)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; available: {', '.join(LANGUAGES)}")
    t = LANGUAGES[lang]
    steps = _Builder(summary, segs, lang, absolute).build()
    if not verbose:
        steps = _collapse(steps, lang, {s.frame: s for s in segs})
    hidden = 0
    if max_steps is not None and len(steps) > max_steps:
        hidden = len(steps) - max_steps
        steps = steps[:max_steps]
    steps = [Step(i + 1, s.frames, s.kind, s.phase, s.text, s.client_state, s.server_state, s.flags, s.notable)
             for i, s in enumerate(steps)]  # fmt: skip
    d = summary.to_dict()
    flow = summary.flow
    guess = t["header.guess"] if flow.roles_guessed else ""
    header = t["header"].format(stream=flow.stream, client=d["client"], server=d["server"], guess=guess)
    duration = (segs[-1].ts_ns - segs[0].ts_ns) if segs else 0
    sub = t["header.duration"].format(packets=len(segs), duration=_dur(duration))
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
    run = Pipeline(path)
    by_stream: dict[int, list[Segment]] = {}
    for seg in run:
        if wanted is None or seg.stream in wanted:
            by_stream.setdefault(seg.stream, []).append(seg)
    summaries = {s.flow.stream: s for s in run.summaries}
    flows = []
    for n in sorted(by_stream):
        summary = summaries[n]
        if not _matches(summary, hosts, ports):
            continue
        flows.append(narrate_flow(summary, by_stream[n], lang, verbose=verbose, absolute=absolute,
                                  max_steps=max_steps))  # fmt: skip
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(getattr(path, "name", "<stream>"))
    return Narrative(name, lang, flows, run.stats.as_dict())


def _matches(summary: FlowSummary, hosts: list[str] | None, ports: list[int] | None) -> bool:
    flow = summary.flow
    if hosts and not {flow.client.addr_text, flow.server.addr_text} & set(hosts):
        return False
    return not ports or bool({flow.client.port, flow.server.port} & set(ports))


# --- rendering -----------------------------------------------------------------------------------------

_ORDER = {"handshake": 0, "data": 1, "teardown": 2, "reset": 3}


def _new_section(step: Step, shown: set[str]) -> bool:
    """A section heading opens when a phase first appears and does not go back (data after a FIN, in a
    half-close, stays under the teardown heading)."""
    if step.phase in shown:
        return False
    if shown and max(_ORDER[p] for p in shown) > _ORDER[step.phase]:
        return False
    shown.add(step.phase)
    return True


_ANSI = {"section": "\x1b[1;36m", "header": "\x1b[1m", "flag": "\x1b[31m", "reset": "\x1b[0m", "dim": "\x1b[2m"}


def render_text(n: FlowNarrative, color: bool = False) -> str:
    t = LANGUAGES[n.lang]

    def c(kind: str, s: str) -> str:
        return f"{_ANSI[kind]}{s}{_ANSI['reset']}" if color else s

    lines = [c("header", n.header), f"  {n.subheader}{t['sep.sentence']}{t['verdict'].format(verdict=n.verdict)}"]
    shown: set[str] = set()
    for step in n.steps:
        if _new_section(step, shown):
            lines.append("")
            lines.append(c("section", t[_SECTION[step.phase]]))
        label = f"[{step.frame_label(n.lang)}]"
        text = c("flag", step.text) if step.flags else step.text
        lines.append(f"  {step.number:>2}. {c('dim', label)} {text}")
    if n.hidden_steps:
        lines.append("  " + t["truncated"].format(n=n.hidden_steps))
    return "\n".join(lines)


def render_markdown(nar: Narrative) -> str:
    out = []
    for n in nar.flows:
        t = LANGUAGES[n.lang]
        out.append(f"## {n.header}\n\n{n.subheader}{t['sep.sentence']}**{t['verdict'].format(verdict=n.verdict)}**\n")
        shown: set[str] = set()
        for step in n.steps:
            if _new_section(step, shown):
                out.append(f"\n### {t[_SECTION[step.phase]]}\n")
            text = step.text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
            out.append(f"{step.number}. **{step.frame_label(n.lang)}** — {text}")
        if n.hidden_steps:
            out.append("\n" + t["truncated"].format(n=n.hidden_steps))
        out.append("")
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45;color:#222}
.tcpflow{border:1px solid #ddd;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
.tcpflow h2{font-size:1.1rem;margin:0 0 .3rem}.tcpflow .sub{color:#555;margin:0 0 .6rem}
.tcpflow h3{font-size:1rem;margin:.9rem 0 .3rem;color:#036}.tcpflow ol{margin:0;padding-left:2.2rem}
.tcpflow li{margin:.25rem 0}.tcpflow .fr{font-family:monospace;color:#666}.tcpflow .flag{color:#b00}
.tcpflow .st{font-family:monospace;font-size:.85em;color:#070}"""


def render_html_flow(n: FlowNarrative) -> str:
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
        parts.append(
            f'<li><span class="fr">[{e(step.frame_label(n.lang))}]</span> <span{cls}>{e(step.text)}</span> '
            f'<span class="st">{e(step.client_state)} / {e(step.server_state)}</span></li>'
        )
    if open_list:
        parts.append("</ol>")
    if n.hidden_steps:
        parts.append(f"<p>{e(t['truncated'].format(n=n.hidden_steps))}</p>")
    parts.append("</div>")
    return "".join(parts)


def _verdict(n: FlowNarrative) -> str:
    return LANGUAGES[n.lang]["verdict"].format(verdict=n.verdict)


def render_html(nar: Narrative) -> str:
    body = "".join(render_html_flow(f) for f in nar.flows)
    title = html.escape(f"tcptrace explain {os.path.basename(nar.capture)}")
    lang = "zh-CN" if nar.lang == "zh" else nar.lang
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>{body}</body></html>\n"
    )


__all__ = ["FlowNarrative", "Narrative", "Step", "explain", "narrate_flow", "preview", "render_html",
           "render_markdown", "render_text"]  # fmt: skip
