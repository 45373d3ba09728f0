"""Build (and execute) the example notebooks from their cell sources here — on purpose only.

    python notebooks/build_notebooks.py      # writes notebooks/*.ipynb with outputs, for reading on GitHub

The tests (tests/test_notebooks.py) execute every notebook top to bottom in a fresh kernel and fail if any
cell errors; this script is how their committed outputs are refreshed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """import tcptrace
import pandas as pd
%matplotlib inline
%config InlineBackend.figure_formats = ["svg"]  # figures as SVG: crisp at any zoom
pd.set_option("display.max_colwidth", None)  # verdicts and analysis lists in full, not cut at 50 characters"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_handshake_walkthrough.ipynb": [
        (
            "md",
            "# The three-way handshake, the data and the four-way close, on a real capture\n\n"
            "A Python echo client sends `AB` to a server on port 20000, gets it back and closes "
            "(`sample_pcaps/echo_ipv4.pcap`, recorded with tcpdump; see `sample_pcaps/README.md`).",
        ),
        ("code", SETUP),
        ("code", 'cap = tcptrace.load("../sample_pcaps/echo_ipv4.pcap")\ncap'),
        ("md", "One stream. Its story, step by step, with the frame numbers to find each packet in Wireshark:"),
        ("code", "flow = cap.flow(0)\nflow.narrative()"),
        (
            "md",
            "The same as a ladder (sequence) diagram: client on the left, server on the right, each "
            "endpoint's state where it changes.",
        ),
        ("code", "ax = flow.diagram()\nax.figure"),
        (
            "md",
            "## Relative and raw sequence numbers\n\nWireshark shows sequence numbers relative to each "
            "side's initial sequence number (ISN); `seq_raw` is what is on the wire. The SYN consumes one "
            "number, so the first data byte is seq 1 and the SYN+ACK acknowledges ISN + 1.",
        ),
        (
            "code",
            'df = flow.to_dataframe()\ndf[["frame", "time", "flags", "seq", "seq_raw", "ack", "ack_raw", "len", '
            '"win", "client_state", "server_state"]]',
        ),
        (
            "code",
            "isn_client = df.seq_raw[0]\nsyn_ack = df.iloc[1]\n"
            "print('client ISN', isn_client, '-> SYN+ACK acks', syn_ack.ack_raw, '=', isn_client, '+ 1:',"
            " syn_ack.ack_raw == (isn_client + 1) % 2**32)",
        ),
    ],
    "02_lossy_transfer.ipynb": [
        (
            "md",
            "# Troubleshooting a lossy transfer\n\n600 KB from a server to a client with about 2 % of the "
            "packets dropped by `iptables -m statistic` (`sample_pcaps/lossy_bulk.pcap`).",
        ),
        ("code", SETUP),
        ("code", 'cap = tcptrace.load("../sample_pcaps/lossy_bulk.pcap")\ncap.to_dataframe()'),
        ("md", "Every packet with Wireshark's analysis flags, as a DataFrame:"),
        (
            "code",
            "flow = cap.flow(0)\npk = flow.to_dataframe()\n"
            "flagged = pk[pk.analysis.str.len() > 0]\n"
            'flagged[["frame", "time", "src", "seq", "ack", "len", "analysis"]].head(15)',
        ),
        ("md", "How often each flag fires:"),
        ("code", 'pk.explode("analysis").analysis.value_counts()'),
        ("md", "Each retransmission says *why* it is one: the numbers compared and the frames involved."),
        (
            "code",
            'retrans = pk[pk.analysis.apply(lambda a: "retransmission" in a)]\n'
            "for _, row in retrans.head(5).iterrows():\n"
            '    kind = "fast_retransmission" if "fast_retransmission" in row.analysis else "retransmission"\n'
            '    print(row.frame, kind, "-", row.evidence[kind]["why"])',
        ),
        (
            "md",
            "## Graphs\nThe time-sequence graph (classic tcptrace style): data as vertical bars, the ACK line, "
            "the receive window, SACK blocks, retransmissions marked R.",
        ),
        ("code", 'flow.graph("tsg").figure'),
        ("code", 'flow.graph("throughput").figure'),
        (
            "md",
            "The narrative keeps every retransmission and duplicate-ACK burst visible while collapsing the "
            "ordinary segments:",
        ),
        ("code", "flow.narrative(max_steps=25)"),
        (
            "md",
            "## One page to share\n`cap.report()` (or `tcptrace report CAPTURE -o report.html`) puts it all on one "
            "self-contained HTML page: overview, flows table, story, ladder, graphs and packets, frame numbers "
            "linked to their rows.",
        ),
        (
            "code",
            'page = cap.report()\nopen("lossy_report.html", "w", encoding="utf-8").write(page.html)\n'
            'print(f"{len(page.html) / 1e6:.1f} MB, streams in detail: {page.detailed}")\n'
            'import os\nos.remove("lossy_report.html")',
        ),
    ],
    "03_regression_in_ci.ipynb": [
        (
            "md",
            "# Regression in CI with `tcptrace check`\n\nSave the flow summary of a known-good run as a "
            "baseline, then check a new capture against it and against explicit assertions.",
        ),
        ("code", SETUP + "\nimport json, subprocess, sys"),
        (
            "code",
            'good = "../sample_pcaps/port_reuse.pcap"\n'
            'baseline = subprocess.run([sys.executable, "-m", "tcptrace", "flows", "--format", "json", good],\n'
            "                          capture_output=True, text=True, check=True).stdout\n"
            'open("baseline.json", "w").write(baseline)\n'
            'print(json.loads(baseline)["flows"][0]["verdict"])',
        ),
        ("md", "The same service, captured again: the baseline holds (client ports and times are ignored)."),
        (
            "code",
            'r = subprocess.run([sys.executable, "-m", "tcptrace", "check", good, "--baseline", "baseline.json"],\n'
            '                   capture_output=True, text=True)\nprint(r.stdout, "exit status", r.returncode)',
        ),
        (
            "md",
            "Now something changed: the client aborts its connection (SO_LINGER 0) instead of closing it. "
            "`check` fails, and says which flow, which frame and why.",
        ),
        (
            "code",
            'changed = "../sample_pcaps/abort_rst.pcap"\n'
            'r = subprocess.run([sys.executable, "-m", "tcptrace", "check", changed, "--baseline", "baseline.json",\n'
            '                    "--require", "graceful-close", "--forbid", "rst"], capture_output=True, text=True)\n'
            'print(r.stdout, "exit status", r.returncode)',
        ),
        ("md", "The same from Python, with JUnit XML for the CI system:"),
        (
            "code",
            "from tcptrace.check import run_checks, junit_xml\n"
            'result = run_checks(changed, forbid=["rst"])\nprint(result.report())\n'
            "print(junit_xml(result)[:400])",
        ),
        ("code", 'import os\nos.remove("baseline.json")'),
    ],
    "04_handshake_zh.ipynb": [
        ("md", "# 三次握手与四次挥手（中文）\n\n同一个回显示例：客户端发送 `AB`，服务器原样返回，然后关闭连接。"),
        ("code", SETUP),
        (
            "code",
            'cap = tcptrace.load("../sample_pcaps/echo_ipv4.pcap")\nflow = cap.flow(0)\nflow.narrative(lang="zh")',
        ),
        (
            "md",
            "时序图的中文标签需要 CJK 字体。`pip install 'tcptrace[zh]'` 会安装一个 Noto Sans CJK 字体包，"
            "tcptrace 自动向 matplotlib 注册它；没有 CJK 字体时会给出警告并改用英文标签。",
        ),
        (
            "code",
            "import os\nfrom tcptrace.diagram import find_cjk_font, packaged_cjk_font\n"
            "print(find_cjk_font(), '|', os.path.basename(packaged_cjk_font() or 'no zh extra'))\n"
            'flow.diagram(lang="zh").figure',
        ),
        ("md", "拒绝连接（RST）与异常关闭："),
        (
            "code",
            "from IPython.display import display\n"
            'for name in ["refused.pcap", "abort_rst.pcap"]:\n'
            '    display(tcptrace.explain("../sample_pcaps/" + name, lang="zh"))',
        ),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 120) -> nbformat.NotebookNode:
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    return nb


def main() -> int:
    for name, cells in NOTEBOOKS.items():
        nb = execute(build(name, cells))
        nbformat.write(nb, HERE / name)
        print(f"wrote notebooks/{name} ({(HERE / name).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
