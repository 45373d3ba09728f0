"""One self-contained HTML page for a whole capture: ``tcptrace report CAPTURE -o report.html``.

Theory of operation. The capture is read once, streaming (:class:`tcptrace.engine.FlowStream`): each stream is
handed out when it has finished, rendered into an HTML fragment while its packets are in hand, and its packets
are then dropped, so memory grows with the fragments kept, not with the capture. The page holds

* an overview (connections, how they ended, which need attention: :func:`tcptrace.narrate.overview_of_endings`),
* a flows table, sortable by a small inline script (no CDN; without scripts it is a plain table in stream order),
* per flow (at most :data:`MAX_DETAILED_FLOWS`, the ones needing attention first): the verdict, the narrative
  with every frame number linked to its packet row, the ladder diagram and, where data flowed, a time-sequence
  and a throughput graph as inline SVG, the followed byte stream (tcptrace.follow: chunks and gaps, their frames
  linked), and a packets table with one anchor per frame.

Everything taken from the capture (file name, addresses, payload previews) is HTML-escaped; a
Content-Security-Policy allows only the page's own script (by its hash), so markup that got through anyway could
not run. The bounds (flows detailed, packet rows, when graphs become PNG) are module constants, said on the page
where they cut something, and listed in docs/limits.md.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from . import __version__
from .engine import FlowStream
from .export import _info, flow_row_dict
from .messages import LANGUAGES
from .model import Direction, Segment, format_endpoint
from .narrate import ending, needs_attention, overview_of_endings, render_html_flow, render_overview_of
from .output import path_text, printable, short_name
from .selection import Selection
from .stats import flow_row

if TYPE_CHECKING:
    from .engine import FinishedFlow
    from .stats import FlowSummary

# Bounds (docs/limits.md, "Report"): a report of a big capture stays a page a browser opens.
MAX_DETAILED_FLOWS = 30  # flows with narrative, ladder, graphs and packets; the table lists every flow
MAX_TABLE_ROWS = 10_000  # flows table rows (a million-connection capture would otherwise be a 400 MB table)
MAX_PACKET_ROWS = 500  # packet rows per flow (its first ones; later frames are not linked)
MAX_FOLLOW_BYTES = 64 * 1024  # of the followed byte stream per flow (tcptrace follow -s N shows it all)
MAX_FOLLOW_ITEMS = 200  # chunks and gaps of it per flow
MAX_SVG_GRAPH_SEGMENTS = 5_000  # above this, a graph is an inline PNG (an SVG grows with the points drawn)
GRAPH_KINDS = ("tsg", "throughput")  # drawn where data flowed
GRAPH_WIDTH_IN = 9.0
PNG_DPI = 144  # crisp on a high-density screen at the graph's CSS width

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "tcptrace report: {name}",
        "made": "Made by tcptrace {version}: {frames} frames, {segments} TCP segments, {streams} streams.",
        "overview": "Overview",
        "flows": "Flows",
        "sort": "Click a column heading to sort.",
        "col.stream": "stream",
        "col.client": "client",
        "col.server": "server",
        "col.app": "app",
        "col.packets": "packets →/←",
        "col.bytes": "bytes →/←",
        "col.duration": "duration s",
        "col.zeek": "Zeek",
        "col.retr": "retr.",
        "col.verdict": "verdict",
        "attention.below": "Needing attention, told in detail below",
        "details": "Connections in detail",
        "narrative": "What happened",
        "ladder": "Ladder diagram",
        "graphs": "Graphs",
        "packets": "Packets",
        "follow": "Byte stream",
        "cap.follow": "{n:,} more bytes in {items:,} more chunks and gaps are not shown here "
        "(tcptrace follow -s {stream} shows them all).",
        "cap.flows": "Details are shown for {shown} of {total} flows (at most {cap}; the ones needing attention "
        "first). Select others with -s N, --host or --port.",
        "cap.table": "The table lists the first {cap:,} of {total:,} flows.",
        "cap.packets": "The first {cap} of {total} packets are listed; later frames are not linked here "
        "(tcptrace packets -s {stream} lists them all).",
        "png": "Drawn as an image: {n:,} segments are too many for an SVG of reasonable size.",
        "pkt.frame": "frame",
        "pkt.time": "time s",
        "pkt.dir": "dir.",
        "pkt.flags": "flags",
        "pkt.analysis": "analysis",
        "noscript": "",
        "warnings": "Warnings from the capture reader",
    },
    "zh": {
        "title": "tcptrace 报告：{name}",
        "made": "由 tcptrace {version} 生成：{frames} 帧，{segments} 个 TCP 报文段，{streams} 条流。",
        "overview": "概览",
        "flows": "连接列表",
        "sort": "点击列标题即可排序。",
        "col.stream": "流",
        "col.client": "客户端",
        "col.server": "服务器",
        "col.app": "应用协议",
        "col.packets": "报文数 →/←",
        "col.bytes": "字节数 →/←",
        "col.duration": "时长（秒）",
        "col.zeek": "Zeek",
        "col.retr": "重传",
        "col.verdict": "结论",
        "attention.below": "需要关注、下面有详细说明的流",
        "details": "连接详情",
        "narrative": "发生了什么",
        "ladder": "时序图",
        "graphs": "图表",
        "packets": "报文",
        "follow": "字节流",
        "cap.follow": "还有 {items:,} 个数据块和缺口（共 {n:,} 字节）没有在这里显示"
        "（tcptrace follow -s {stream} 可显示全部）。",
        "cap.flows": "共 {total} 条流，这里详细展示其中 {shown} 条（最多 {cap} 条，需要关注的优先）。"
        "其余的可用 -s N、--host 或 --port 选择。",
        "cap.table": "表中只列出 {total:,} 条流中的前 {cap:,} 条。",
        "cap.packets": "只列出 {total} 个报文中的前 {cap} 个，之后的帧在这里没有链接"
        "（tcptrace packets -s {stream} 可列出全部）。",
        "png": "以图片形式绘制：{n:,} 个报文段对 SVG 来说太多了。",
        "pkt.frame": "帧",
        "pkt.time": "时间（秒）",
        "pkt.dir": "方向",
        "pkt.flags": "标志",
        "pkt.analysis": "分析",
        "noscript": "",
        "warnings": "读取捕获文件时的警告",
    },
}

_CSS = """
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#d9d9de;--bad:#fdecee;--badfg:#a31515;--ok:#e9f5ec;--link:#0b57d0}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC","PingFang SC",
"Microsoft YaHei",sans-serif;color:var(--fg);margin:0;padding:1.5rem;line-height:1.45;max-width:82rem;
margin-inline:auto}
h1{font-size:1.5rem;margin:.2rem 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .6rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem;color:#036}a{color:var(--link)}
.meta{color:var(--muted);margin:0 0 1rem}.note{color:var(--muted);font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{border-bottom:1px solid var(--line);padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#f4f4f6;position:sticky;top:0;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.sortable th{cursor:pointer}table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
tr.attn td{background:var(--bad)}tr.attn td.v{color:var(--badfg)}
.scroll{max-height:32rem;overflow:auto;border:1px solid var(--line);border-radius:6px}
.flows .scroll{max-height:40rem}
section.flow{border:1px solid var(--line);border-radius:10px;padding:.2rem 1.2rem 1rem;margin:1.5rem 0}
section.flow.attn{border-left:6px solid var(--badfg)}
.flow .tcpflow{border:0;padding:0;margin:0}
.tcpflow h2{display:none}.tcpflow .sub{font-size:1.05rem}.tcpflow ol{padding-left:2.2rem}
.tcpflow .fr{font-family:ui-monospace,monospace;color:var(--muted)}.tcpflow .flag{color:var(--badfg)}
.tcpflow .st{font-family:ui-monospace,monospace;font-size:.85em;color:#17652d}
figure{margin:.5rem 0}figure svg,figure img{max-width:100%;height:auto}
.graphs{display:grid;grid-template-columns:repeat(auto-fit,minmax(24rem,1fr));gap:.5rem}
tr:target td{background:#fff3bf}td.an{color:var(--badfg)}
pre.stream{white-space:pre-wrap;word-break:break-all;margin:.1rem 0 .5rem;padding:.4rem .6rem;border-radius:6px}
.chunk.c2s pre{background:#fbeaea;color:#7a1010}.chunk.s2c pre{background:#e8eefb;color:#0d2f73}
.gap{color:var(--badfg);font-family:ui-monospace,monospace;font-size:.85rem;margin:.3rem 0}
.follow{padding:.3rem .6rem}pre.note{white-space:pre-wrap;margin:.2rem 0}
"""

# Sorting the flows table: numbers by data-v, text by its content; a marker on <html> says the script ran.
_JS = """(function(){var root=document.documentElement;try{
document.querySelectorAll("table.sortable").forEach(function(table){
var heads=table.tHead.rows[0].cells;Array.prototype.forEach.call(heads,function(th,i){var asc=true;
th.tabIndex=0;th.setAttribute("role","button");
function key(row){var c=row.cells[i];return c.hasAttribute("data-v")?parseFloat(c.getAttribute("data-v")):
c.textContent;}
function sort(){var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){var x=key(a),y=key(b);var d=(typeof x==="number")?x-y:String(x).localeCompare(String(y));
return asc?d:-d;});rows.forEach(function(r){body.appendChild(r);});
Array.prototype.forEach.call(heads,function(h){h.removeAttribute("aria-sort");});
th.setAttribute("aria-sort",asc?"ascending":"descending");asc=!asc;}
th.addEventListener("click",sort);th.addEventListener("keydown",function(ev){if(ev.key==="Enter"){sort();}});});
});
document.querySelectorAll("[data-js-hint]").forEach(function(el){el.hidden=false;});
root.setAttribute("data-js","ok");}catch(err){root.setAttribute("data-js","error: "+err);}})();"""


@dataclass
class _FlowPart:
    """What the page keeps of one flow once its packets are gone: the table row and, maybe, its section."""

    stream: int
    row: dict[str, Any]  # the flows table's columns (export.flow_row_dict of stats.flow_row: as `tcptrace flows`)
    ending: str  # narrate.ending: what the overview counts
    verdict: str
    attention: bool
    app: str = ""  # the protocol the application spoke (tcptrace.applayer): http, tls, dns, lines ... or none
    section: str = ""


@dataclass
class Report:
    """The rendered page and what it holds (for tests and the CLI's one-line summary)."""

    html: str
    flows: int
    detailed: list[int] = field(default_factory=list)
    streams_total: int = 0
    missing: tuple[int, ...] = ()
    warnings: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return self.html


def build_report(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    lang: str = "en",
    streams: tuple[int, ...] | list[int] = (),
    hosts: tuple[str, ...] | list[str] = (),
    ports: tuple[int, ...] | list[int] = (),
    max_detailed: int = MAX_DETAILED_FLOWS,
    max_packet_rows: int = MAX_PACKET_ROWS,
) -> Report:
    """Read ``source`` once and render the report page (see the module docstring)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; available: {', '.join(LANGUAGES)}")
    selection = Selection.of(streams, hosts, ports)
    fs = FlowStream(source, selection)
    parts: list[_FlowPart] = []
    kept = {True: 0, False: 0}  # sections rendered so far, of flows needing attention and of the others
    for ff in fs:
        d = ff.summary.to_dict(classic=False)
        attention = needs_attention(d)
        row = flow_row_dict(flow_row(ff.summary.row_facts()))
        part = _FlowPart(ff.stream, row, ending(d), ff.summary.sentence(lang), attention, _app(ff))
        # Flows needing attention up to the cap; the others only while fewer than the cap are kept in all (enough
        # to fill what the attention flows leave, however many come later). Chosen at the end, attention first.
        if kept[attention] < max_detailed and (attention or kept[True] + kept[False] < max_detailed):
            part.section = _flow_section(ff, part, lang, max_packet_rows)
            kept[attention] += 1
        parts.append(part)
    parts.sort(key=lambda p: p.stream)
    chosen = [p for p in parts if p.section and p.attention][:max_detailed]
    chosen += [p for p in parts if p.section and not p.attention][: max_detailed - len(chosen)]
    detailed = sorted(p.stream for p in chosen)
    stats = fs.stats
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else str(getattr(source, "name", "<stream>"))
    page = _page(name, lang, parts, set(detailed), stats, fs.streams_total, max_detailed)
    return Report(page, len(parts), detailed, fs.streams_total, selection.missing(fs.streams_total),
                  list(stats.warnings))  # fmt: skip


# --- the page ------------------------------------------------------------------------------------------


def _page(name: str, lang: str, parts: list[_FlowPart], detailed: set[int], stats: Any, streams_total: int,
          max_detailed: int) -> str:  # fmt: skip
    t = _TEXT[lang]
    e = html.escape
    shown_name = printable(path_text(short_name(name)))
    title = t["title"].format(name=shown_name)
    made = t["made"].format(version=__version__, frames=f"{stats.frames:,}", segments=f"{stats.tcp_segments:,}",
                            streams=f"{streams_total:,}")  # fmt: skip
    body = [f"<h1>{e(title)}</h1>", f'<p class="meta">{e(made)}</p>']
    if stats.warnings:
        items = "".join(f"<li>{e(printable(w))}</li>" for w in stats.warnings[:50])
        body.append(f'<details class="note"><summary>{e(t["warnings"])}</summary><ul>{items}</ul></details>')
    o = overview_of_endings((p.stream, p.ending, p.attention) for p in parts)
    body.append(f'<h2 id="overview">{e(t["overview"])}</h2>')
    if parts:
        body.append(f"<p>{e(render_overview_of(o, lang))}</p>")
    shown = [n for n in o["attention"] if n in detailed]  # the overview names them all; link those told below
    if shown:
        links = ", ".join(_stream_link(n, True) for n in shown)
        body.append(f"<p>{e(t['attention.below'])}: {links}</p>")
    if len(parts) > len(detailed):
        cut = t["cap.flows"].format(shown=len(detailed), total=len(parts), cap=max_detailed)
        body.append(f'<p class="note">{e(cut)}</p>')
    body.append(f'<h2 id="flows">{e(t["flows"])}</h2>')
    body.append(f'<p class="note" data-js-hint hidden>{e(t["sort"])}</p>')
    body.append(_flows_table(parts, detailed, t))
    if detailed:
        body.append(f'<h2 id="details">{e(t["details"])}</h2>')
        body.extend(p.section for p in parts if p.stream in detailed)
    script_hash = base64.b64encode(hashlib.sha256(_JS.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{script_hash}'"
    html_lang = LANGUAGES[lang]["meta.html_lang"]
    return (
        f'<!DOCTYPE html>\n<html lang="{e(html_lang)}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="tcptrace {e(__version__)}">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{_JS}</script>\n</body></html>\n"
    )


def _app(ff: FinishedFlow) -> str:
    """What the application spoke on this stream, from the first 64 KiB each way (tcptrace.applayer)."""
    from .applayer import analyse

    halves = ff.summary.flow.halves
    return analyse(ff.segments, halves[1].port, halves[0].port).protocol


def _stream_link(n: int, linked: bool) -> str:
    return f'<a href="#s{n}">{n}</a>' if linked else str(n)


def _flows_table(parts: list[_FlowPart], detailed: set[int], t: dict[str, str]) -> str:
    e = html.escape
    cols = ["stream", "client", "server", "app", "packets", "bytes", "duration", "zeek", "retr", "verdict"]
    head = "".join(f"<th>{e(t['col.' + c])}</th>" for c in cols)
    rows = []
    for p in parts[:MAX_TABLE_ROWS]:
        r = p.row
        cls = ' class="attn"' if p.attention else ""
        pk = r["packets_c2s"] + r["packets_s2c"]
        by = r["bytes_c2s"] + r["bytes_s2c"]
        rows.append(
            f'<tr{cls}><td class="n" data-v="{p.stream}">{_stream_link(p.stream, p.stream in detailed)}</td>'
            f"<td>{e(r['client'])}</td><td>{e(r['server'])}</td><td>{e(p.app)}</td>"
            f'<td class="n" data-v="{pk}">{r["packets_c2s"]:,}/{r["packets_s2c"]:,}</td>'
            f'<td class="n" data-v="{by}">{r["bytes_c2s"]:,}/{r["bytes_s2c"]:,}</td>'
            f'<td class="n" data-v="{r["duration_s"]}">{r["duration_s"]:.3f}</td>'
            f'<td>{e(r["conn_state"])}</td><td class="n" data-v="{r["retransmissions"]}">{r["retransmissions"]}</td>'
            f'<td class="v">{e(p.verdict)}</td></tr>'
        )
    note = ""
    if len(parts) > MAX_TABLE_ROWS:
        note = f'<p class="note">{e(t["cap.table"].format(cap=MAX_TABLE_ROWS, total=len(parts)))}</p>'
    return (
        f'<div class="flows"><div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}</div>"
    )


# --- one flow ------------------------------------------------------------------------------------------


def _flow_section(ff: FinishedFlow, part: _FlowPart, lang: str, max_rows: int) -> str:
    from .events import resolve_states
    from .narrate import narrate_flow

    t = _TEXT[lang]
    e = html.escape
    segs = ff.segments
    resolve_states(segs)
    listed = {s.frame for s in segs[:max_rows]}
    n = ff.stream

    def frame_href(frame: int) -> str | None:
        return f"#f{frame}" if frame in listed else None

    story = narrate_flow(ff.summary, segs, lang, previous=ff.previous)
    cls = "flow attn" if part.attention else "flow"
    out = [f'<section class="{cls}" id="s{n}"><h2>{e(story.header)}</h2>',
           f"<h3>{e(t['narrative'])}</h3>", render_html_flow(story, frame_href),
           f"<h3>{e(t['ladder'])}</h3>", _figure(_ladder_svg(ff, lang), f"s{n}-l-")]  # fmt: skip
    if part.row["bytes_c2s"] or part.row["bytes_s2c"]:
        graphs = [_graph(ff.summary, segs, kind, f"s{n}-{kind}-", t) for kind in GRAPH_KINDS]
        out.append(f'<h3>{e(t["graphs"])}</h3><div class="graphs">{"".join(graphs)}</div>')
    out.append(_follow_section(ff, t, frame_href, lang))
    out.append(f"<h3>{e(t['packets'])}</h3>")
    out.append(_packets_table(ff.summary, segs, max_rows, t))
    out.append("</section>")
    return "\n".join(out)


def _follow_section(
    ff: FinishedFlow, t: dict[str, str], frame_href: Callable[[int], str | None], lang: str = "en"
) -> str:
    """The reassembled byte stream (tcptrace.follow), both directions in the order a conversation reads: each
    chunk under a line naming its direction, offset and frames (linked to their rows), each gap as one line.
    Control and undecodable bytes are escaped (follow.text_of), then everything is HTML-escaped. At most
    :data:`MAX_FOLLOW_BYTES` bytes and :data:`MAX_FOLLOW_ITEMS` chunks and gaps are shown."""
    from .follow import Chunk, describe, reassemble, summary_lines, text_of

    e = html.escape
    fs = reassemble(ff.segments)
    items = fs.items("both")
    if not items:
        return ""
    out = [f"<h3>{e(t['follow'])}</h3>", f'<pre class="note">{e(chr(10).join(summary_lines(fs, lang)))}</pre>']
    shown = 0
    body: list[str] = []
    for i, item in enumerate(items):
        if i >= MAX_FOLLOW_ITEMS or shown >= MAX_FOLLOW_BYTES:
            left = sum(x.length for x in items[i:] if isinstance(x, Chunk))
            cap = t["cap.follow"].format(n=left, items=len(items) - i, stream=fs.stream)
            body.append(f'<p class="note">{e(cap)}</p>')
            break
        first = item.frames[0] if item.frames else None
        href = frame_href(first) if first is not None else None
        line = e(describe(item, lang))
        if href is not None:
            line = f'<a href="{e(href)}">{line}</a>'
        if isinstance(item, Chunk):
            data = item.data[: MAX_FOLLOW_BYTES - shown]
            shown += len(data)
            cut = " …" if len(data) < item.length else ""
            text = e("\n".join(text_of(data)) + cut)
            body.append(f'<div class="chunk {item.direction}"><div class="note">{line}</div>'
                        f'<pre class="stream">{text}</pre></div>')  # fmt: skip
        else:
            body.append(f'<div class="gap {item.direction}">[{line}]</div>')
    out.append(f'<div class="scroll follow">{"".join(body)}</div>')
    return "\n".join(out)


def _ladder_svg(ff: FinishedFlow, lang: str) -> str:
    import matplotlib

    from .diagram import render_svg
    from .ladder import build_ladder

    with matplotlib.rc_context({"svg.hashsalt": "tcptrace"}):  # stable ids: the same capture, the same page
        return render_svg(build_ladder(ff.summary, ff.segments, lang=lang))


def _graph(summary: FlowSummary, segs: list[Segment], kind: str, prefix: str, t: dict[str, str]) -> str:
    import matplotlib
    from matplotlib.figure import Figure

    from .graph import HEIGHT_RATIO, draw_graph

    fig = Figure(figsize=(GRAPH_WIDTH_IN, GRAPH_WIDTH_IN * HEIGHT_RATIO))
    draw_graph(summary, segs, kind, ax=fig.subplots())
    fig.tight_layout()
    buf = io.BytesIO()
    if len(segs) > MAX_SVG_GRAPH_SEGMENTS:
        fig.savefig(buf, format="png", dpi=PNG_DPI)
        data = base64.b64encode(buf.getvalue()).decode()
        note = html.escape(t["png"].format(n=len(segs)))
        return (f'<figure><img alt="{kind}" src="data:image/png;base64,{data}">'
                f'<figcaption class="note">{note}</figcaption></figure>')  # fmt: skip
    with matplotlib.rc_context({"svg.hashsalt": "tcptrace"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return _figure(buf.getvalue().decode("utf-8"), prefix)


_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID_REF = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _figure(svg: str, prefix: str) -> str:
    return f"<figure>{inline_svg(svg, prefix)}</figure>"


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element for an HTML page: the XML prologue and the metadata dropped, and every id (and each
    reference to one) prefixed, so the glyph and clip-path ids of two figures on one page cannot collide."""
    start = svg.find("<svg")
    svg = svg[start:] if start >= 0 else svg
    svg = _METADATA.sub("", svg, count=1)  # matplotlib's RDF block: bytes, and namespaces nobody reads
    ids = set(re.findall(r'\bid="([^"]+)"', svg))

    def rename(m: re.Match[str]) -> str:
        return m.group(1) + prefix + m.group(2) if m.group(2) in ids else m.group(0)

    return _ID_REF.sub(rename, svg)


def _packets_table(summary: FlowSummary, segs: list[Segment], max_rows: int, t: dict[str, str]) -> str:
    e = html.escape
    t0 = segs[0].ts_ns if segs else 0
    head = "".join(
        f"<th>{e(h)}</th>"
        for h in (
            t["pkt.frame"],
            t["pkt.time"],
            t["pkt.dir"],
            t["pkt.flags"],
            "seq",
            "ack",
            "len",
            "win",
            t["pkt.analysis"],
        )
    )
    rows = []
    for s in segs[:max_rows]:
        arrow = "→" if s.direction == Direction.C2S else "←"
        src = format_endpoint(s.src, s.sport)
        rows.append(
            f'<tr id="f{s.frame}"><td class="n">{s.frame}</td><td class="n">{(s.ts_ns - t0) / 1e9:.6f}</td>'
            f'<td title="{e(src)}">{arrow}</td><td>{e(", ".join(s.flag_names))}</td><td class="n">{s.seq}</td>'
            f'<td class="n">{s.ack}</td><td class="n">{s.len}</td><td class="n">{s.win}</td>'
            f'<td class="an">{e(_info(s))}</td></tr>'
        )
    note = ""
    if len(segs) > max_rows:
        cap = t["cap.packets"].format(cap=max_rows, total=len(segs), stream=summary.flow.stream)
        note = f'<p class="note">{e(cap)}</p>'
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>' + note
    )


def write_report(report: Report, path: str | os.PathLike[str]) -> None:
    """Write the page to ``path``, replacing it only once complete (tcptrace.output.replacing)."""
    from .output import replacing

    with replacing(path) as f:
        f.write(report.html.encode("utf-8"))


__all__ = ["MAX_DETAILED_FLOWS", "MAX_PACKET_ROWS", "MAX_TABLE_ROWS", "Report", "build_report", "inline_svg",
           "write_report"]  # fmt: skip
