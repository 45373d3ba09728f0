"""The report in a real browser: headless Chromium (Debian's ``chromium``; .ci/run installs it when apt-get can).

Chromium loads the page from a file with the network cut off (a proxy that does not exist), then ``--dump-dom``
gives the document after its script ran: the script marks ``<html data-js="ok">`` when it ran without error, and
Chromium's log (``--enable-logging=stderr``) would carry any console error or CSP refusal. A screenshot is taken
too (its size is checked here; look at it yourself with TCPTRACE_SCREENSHOTS=DIR). Skips with the reason when no
browser is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SAMPLES

from tcptrace.report import build_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((b for b in (shutil.which(n) for n in BROWSERS) if b), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless Chromium (apt-get install chromium)")


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--proxy-server=127.0.0.1:9", "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp / 'profile'}",
             "--hide-scrollbars", "--virtual-time-budget=3000"]  # fmt: skip
    return subprocess.run([BROWSER, *flags, *args], capture_output=True, text=True, timeout=120, check=False)


def _console_errors(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if re.search(r"CONSOLE|Uncaught|Content Security Policy|Refused to", ln)]


@pytest.mark.parametrize(("capture", "lang", "svgs", "texts"), [
    ("lossy_bulk.pcap", "en", 3, ["Overview", "Needing attention", "Time-sequence graph", "retransmission"]),
    ("dialogue_threaded.pcap", "zh", 9, ["概览", "三次握手", "点击列标题即可排序。"]),
])  # fmt: skip
def test_the_page_renders_and_its_script_runs(
    tmp_path: Path, capture: str, lang: str, svgs: int, texts: list[str]
) -> None:
    page = tmp_path / "report.html"
    page.write_text(build_report(SAMPLES / capture, lang=lang).html, "utf-8")
    url = page.as_uri()
    r = chromium("--dump-dom", url, tmp=tmp_path)
    dom = r.stdout
    assert "<html" in dom, r.stderr[-2000:]
    assert re.search(r'<html[^>]* data-js="ok"', dom), "the page's script did not run to the end"
    assert _console_errors(r.stderr) == []
    assert dom.count("<svg") == svgs
    assert 'data-js-hint=""' in dom
    assert "hidden" not in dom.split("data-js-hint", 1)[1].split(">", 1)[0]  # the script showed the sort hint
    for text in texts:
        assert text in dom, text
    shot = tmp_path / "shot.png"
    r = chromium(f"--screenshot={shot}", "--window-size=1280,2000", url, tmp=tmp_path)
    assert shot.exists(), r.stderr[-2000:]
    assert shot.read_bytes()[:4] == b"\x89PNG"
    assert shot.stat().st_size > 50_000  # a page with figures, not a blank one
    keep = os.environ.get("TCPTRACE_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / f"report-{capture.split('.')[0]}-{lang}.png")


def test_a_script_error_would_be_seen(tmp_path: Path) -> None:
    """The check above can fail: a page whose script throws leaves no data-js="ok" and logs the error."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><p>x</p><script>null.f();'
                    'document.documentElement.setAttribute("data-js","ok")</script></body></html>')  # fmt: skip
    r = chromium("--dump-dom", page.as_uri(), tmp=tmp_path)
    assert "<html" in r.stdout
    assert 'data-js="ok"' not in r.stdout
    assert _console_errors(r.stderr)
