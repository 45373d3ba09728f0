"""tcptrace report: one self-contained HTML page per capture (tcptrace.report).

The captures are the shipped samples (sample_pcaps/README.md says how each was made) and small fixtures built
by code (tests/pcapgen.py). The page is parsed with the standard library's HTMLParser, so a test reads it as a
browser would tokenise it; tests/test_report_browser.py renders it in a real browser.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pcapgen as g
import pytest
from click.testing import CliRunner
from conftest import SAMPLES, engines

from tcptrace.cli import main
from tcptrace.report import build_report, inline_svg


class Page(HTMLParser):
    """The parts of a page the tests look at: tags counted, ids, links, scripts, visible text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self.attrs_seen: list[tuple[str, str, str | None]] = []
        self._in: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self._in.append(tag)
        for k, v in attrs:
            self.attrs_seen.append((tag, k, v))
            if k == "id" and v is not None:
                self.ids.append(v)
            if k == "href" and v is not None and tag == "a":
                self.hrefs.append(v)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            while self._in.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._in and self._in[-1] == "script":
            self.scripts.append(data)
        elif not self._in or self._in[-1] not in ("style", "svg", "path", "g", "defs"):
            self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(self.text)


def page(path: str | Path, **kw: object) -> tuple[Page, str]:
    rep = build_report(path, **kw)  # type: ignore[arg-type]
    return Page(rep.html), rep.html


def test_a_lossy_transfer_has_overview_table_story_ladder_graphs_and_packets() -> None:
    p, text = page(SAMPLES / "lossy_bulk.pcap")
    assert "1 TCP connections: 1 closed normally." in p.visible.replace("1 TCP connection:", "1 TCP connections:")
    assert "Need attention (resets, retransmissions, refusals or anomalies): streams 0." in p.visible
    assert re.search(r"Needing attention, told in detail below:\s+0\s", p.visible)
    assert p.tags["svg"] == 3  # the ladder, the time-sequence graph and the throughput graph
    assert p.tags["section"] == 1
    assert 'id="s0"' in text
    # every packet has a row with its frame as anchor; the narrative links to them
    frames = [i for i in p.ids if re.fullmatch(r"f\d+", i)]
    assert len(frames) == len(set(frames)) > 400
    assert len(p.ids) == len(set(p.ids)), "an id is used twice (two SVGs' glyphs or clip paths?)"


@pytest.mark.parametrize("capture", ["lossy_bulk.pcap", "dialogue_threaded.pcap", "abort_rst.pcap", "refused.pcap"])
def test_every_link_has_its_target(capture: str) -> None:
    p, _ = page(SAMPLES / capture)
    ids = set(p.ids)
    internal = [h for h in p.hrefs if h.startswith("#")]
    assert internal, "no links at all"
    assert [h for h in internal if h[1:] not in ids] == []
    assert [h for h in p.hrefs if not h.startswith("#")] == []  # nothing leaves the page


def test_frames_in_the_story_link_to_their_packet_rows() -> None:
    p, text = page(SAMPLES / "abort_rst.pcap")
    frame_links = [h for h in p.hrefs if re.fullmatch(r"#f\d+", h)]
    assert frame_links
    # the link text names the frame it points at: "[frame 7]" -> #f7, "[frames 4-9]" -> #f4
    for m in re.finditer(r'<a href="#f(\d+)">frames? (\d+)', text):
        assert m.group(1) == m.group(2)


def test_the_page_needs_no_network_and_runs_only_its_own_script() -> None:
    p, text = page(SAMPLES / "echo_ipv4.pcap")
    assert p.tags["script"] == 1
    assert not [v for tag, k, v in p.attrs_seen if k == "src" and v and not v.startswith("data:")]
    assert "http://" not in text.replace("http://www.w3.org/", "")
    assert "https://" not in text
    csp = next(v for tag, k, v in p.attrs_seen if tag == "meta" and k == "content" and v and "script-src" in v)
    assert "default-src 'none'" in csp
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(p.scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp  # the page's script is the one the policy allows


@pytest.mark.parametrize(
    "payload", [b"<script>alert(1)</script>", b'"><img src=x onerror="alert(1)">', b"</textarea><svg onload=alert(1)>"]
)
def test_everything_from_the_capture_is_escaped(tmp_path: Path, payload: bytes) -> None:
    """The payload and the file name are HTML; neither becomes markup."""
    pkts = g.handshake_and_data()
    pkts[3] = g.ipv4(g.tcp(40000, 80, 1001, 5001, g.PSH | g.ACK, 502, payload=payload))
    pkts[4] = g.ipv4(g.tcp(80, 40000, 5001, 1001 + len(payload), g.ACK, 255), "10.0.0.2", "10.0.0.1")
    cap = tmp_path / '<img src=x onerror="alert(2)">.pcap'
    cap.write_bytes(g.pcap(g.records([g.ether(p) for p in pkts])))
    p, text = page(cap)
    assert p.tags["script"] == 1
    assert p.tags.get("img", 0) == 0
    assert p.tags.get("textarea", 0) == 0
    assert not [k for _, k, _ in p.attrs_seen if k.startswith("on")]
    assert "onerror=&quot;alert(2)&quot;" in text  # the file name, escaped, in the title
    assert "alert(1)" in p.visible  # the payload preview is there, as text


def test_chinese(tmp_path: Path) -> None:
    p, text = page(SAMPLES / "dialogue_threaded.pcap", lang="zh")
    assert '<html lang="zh-CN"' in text
    assert "概览" in p.visible
    assert "三次握手" in p.visible  # the narrative's section heading
    assert "点击列标题即可排序。" in p.visible


def test_the_bounds_cut_and_say_so() -> None:
    p, _ = page(SAMPLES / "dialogue_threaded.pcap", max_detailed=1, max_packet_rows=3)
    assert p.tags["section"] == 1
    assert "Details are shown for 1 of 3 flows (at most 1" in p.visible
    assert "The first 3 of 15 packets are listed" in p.visible
    assert len([i for i in p.ids if re.fullmatch(r"f\d+", i)]) == 3
    ids = set(p.ids)
    assert [h for h in p.hrefs if h.startswith("#") and h[1:] not in ids] == []  # later frames are not linked
    table_links = [h for h in p.hrefs if re.fullmatch(r"#s\d+", h)]
    assert set(table_links) == {"#s0"}


def _two_streams(path: Path) -> Path:
    """Stream 0 ends quietly (no FIN); stream 1 is reset by the server (built by code)."""
    quiet = g.handshake_and_data(sport=40000)
    reset = g.handshake_and_data(sport=40001)
    reset.append(g.ipv4(g.tcp(80, 40001, 5001, 1006, g.RST | g.ACK, 0), "10.0.0.2", "10.0.0.1"))
    path.write_bytes(g.pcap(g.records([g.ether(p) for p in quiet + reset])))
    return path


def test_the_flows_needing_attention_are_detailed_first(tmp_path: Path) -> None:
    rep = build_report(_two_streams(tmp_path / "two.pcap"), max_detailed=1)
    assert rep.detailed == [1]
    p = Page(rep.html)
    assert re.search(r"Needing attention, told in detail below:\s+1\s", p.visible)
    assert 'class="attn"' in rep.html


@pytest.mark.parametrize("engine", engines())
def test_both_engines_write_the_same_page(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPTRACE_ENGINE", "python")
    reference = build_report(SAMPLES / "sack_dsack.pcap").html
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    assert build_report(SAMPLES / "sack_dsack.pcap").html == reference


def test_inline_svg_prefixes_every_id_and_reference() -> None:
    svg = ('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg><defs><path id="g1"/><clipPath id="c1"/></defs>'
           '<use xlink:href="#g1"/><g clip-path="url(#c1)"/><a href="#elsewhere"/></svg>')  # fmt: skip
    out = inline_svg(svg, "s3-")
    assert out.startswith("<svg>")
    assert 'id="s3-g1"' in out
    assert 'xlink:href="#s3-g1"' in out
    assert "url(#s3-c1)" in out
    assert 'href="#elsewhere"' in out  # not an id of this SVG: left alone


def test_cli_writes_the_page_and_follows_the_selection(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = CliRunner().invoke(main, ["report", str(SAMPLES / "port_reuse.pcap"), "-s", "1", "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("wrote ")
    p = Page(out.read_text("utf-8"))
    assert [i for i in p.ids if re.fullmatch(r"s\d+", i)] == ["s1"]
    r = CliRunner().invoke(main, ["report", str(SAMPLES / "port_reuse.pcap"), "-s", "7", "-o", str(out)])
    assert r.exit_code == 2
    assert "no TCP stream 7" in r.stderr
    r = CliRunner().invoke(main, ["report", str(SAMPLES / "port_reuse.pcap"), "--port", "9", "-o", str(out)])
    assert r.exit_code == 1
    assert "matches the selection" in r.stderr


def test_the_followed_stream_is_there_escaped_linked_and_bounded() -> None:
    p, text = page(SAMPLES / "dialogue_threaded.pcap", max_detailed=1)
    assert "Byte stream" in p.visible
    assert "What's your name?" in p.visible  # the server's question, as the client read it
    assert re.search(r'<a href="#f24">client → server, offset 0, 6 bytes, frame 24</a>', text)
    assert "Alice" in p.visible
    p, text = page(SAMPLES / "lossy_bulk.pcap")
    assert re.search(r"[\d,]+ more bytes in [\d,]+ more chunks and gaps are not shown here", p.visible)
    shown = sum(len(s) for s in re.findall(r'<pre class="stream">(.*?)</pre>', text, re.DOTALL))
    assert shown < 2 * 64 * 1024  # 64 KiB of payload, some bytes escaped as \xNN


def test_control_bytes_in_the_stream_reach_the_page_escaped(tmp_path: Path) -> None:
    payload = b"\x1b[2J</pre><b>x</b>\x00"
    pkts = g.handshake_and_data()
    pkts[3] = g.ipv4(g.tcp(40000, 80, 1001, 5001, g.PSH | g.ACK, 502, payload=payload))
    pkts[4] = g.ipv4(g.tcp(80, 40000, 5001, 1001 + len(payload), g.ACK, 255), "10.0.0.2", "10.0.0.1")
    cap = tmp_path / "c.pcap"
    cap.write_bytes(g.pcap(g.records([g.ether(p) for p in pkts])))
    _, text = page(cap)
    assert "\x1b" not in text
    assert "\x00" not in text
    assert "<b>x</b>" not in text
    assert "</pre><b>" not in text
    assert r"\x1b[2J&lt;/pre&gt;&lt;b&gt;x&lt;/b&gt;\x00" in text


@pytest.mark.parametrize(("capture", "app"), [("http_keepalive.pcap", "http"), ("tls_hello.pcap", "tls"),
                                              ("dns_tcp.pcap", "dns"), ("lossy_bulk.pcap", "unknown")])  # fmt: skip
def test_the_flows_table_names_the_application(capture: str, app: str) -> None:
    """tcptrace.applayer's protocol, checked against tshark's dissectors in tests/test_applayer.py."""
    _, text = page(SAMPLES / capture)
    head, body = text.split("<tbody>", 1)
    columns = re.findall(r"<th>(.*?)</th>", head.rsplit("<thead>", 1)[1])
    cells = re.findall(r"<td[^>]*>(.*?)</td>", body.split("</tr>", 1)[0])
    assert dict(zip(columns, cells, strict=True))["app"] == app


def test_the_table_and_the_svg_graphs_are_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import tcptrace.report as report

    monkeypatch.setattr(report, "MAX_TABLE_ROWS", 2)
    p, text = page(SAMPLES / "dialogue_threaded.pcap")
    assert text.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr") == 2
    assert "The table lists the first 2 of 3 flows." in p.visible
    monkeypatch.setattr(report, "MAX_SVG_GRAPH_SEGMENTS", 100)
    p, text = page(SAMPLES / "lossy_bulk.pcap")
    assert p.tags["svg"] == 1  # the ladder; the two graphs of 640 segments are images now
    assert text.count('src="data:image/png;base64,iVBORw0KGgo') == 2
    assert "Drawn as an image: 640 segments" in p.visible
