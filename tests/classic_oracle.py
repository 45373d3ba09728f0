"""Classic tcptrace (``/usr/bin/tcptrace -l -n -r``, 6.6.7) as an oracle for our ``tcptrace`` block: run it, parse
its long output, match its connections with our streams and compare every field, telling classic's documented
defects (docs/vocabulary-tcptrace.md) apart from real differences. Used by tests/test_classic_tcptrace.py and
benchmarks/classic_agreement.py (the per-field agreement table)."""

from __future__ import annotations

import gzip
import re
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLASSIC = "/usr/bin/tcptrace"

# classic's label (and unit, where a label is printed twice) -> our key in the a2b/b2a dicts
LABELS: dict[str, str] = {
    "total packets": "total_packets",
    "resets sent": "resets_sent",
    "ack pkts sent": "ack_pkts_sent",
    "pure acks sent": "pure_acks_sent",
    "sack pkts sent": "sack_pkts_sent",
    "dsack pkts sent": "dsack_pkts_sent",
    "max sack blks/ack": "max_sack_blks_per_ack",
    "unique bytes sent": "unique_bytes_sent",
    "actual data pkts": "actual_data_pkts",
    "actual data bytes": "actual_data_bytes",
    "rexmt data pkts": "rexmt_data_pkts",
    "rexmt data bytes": "rexmt_data_bytes",
    "zwnd probe pkts": "zwnd_probe_pkts",
    "zwnd probe bytes": "zwnd_probe_bytes",
    "outoforder pkts": "outoforder_pkts",
    "pushed data pkts": "pushed_data_pkts",
    "SYN/FIN pkts sent": "syn_fin_pkts_sent",
    "req 1323 ws/ts": "req_1323_ws_ts",
    "adv wind scale": "adv_wind_scale",
    "req sack": "req_sack",
    "sacks sent": "sacks_sent",
    "urgent data pkts": "urgent_data_pkts",
    "urgent data bytes": "urgent_data_bytes",
    "mss requested": "mss_requested",
    "max segm size": "max_segm_size",
    "min segm size": "min_segm_size",
    "avg segm size": "avg_segm_size",
    "max win adv": "max_win_adv",
    "min win adv": "min_win_adv",
    "zero win adv": "zero_win_adv",
    "avg win adv": "avg_win_adv",
    "initial window bytes": "initial_window_bytes",
    "initial window pkts": "initial_window_pkts",
    "ttl stream length": "ttl_stream_length",
    "missed data": "missed_data",
    "truncated data": "truncated_data",
    "truncated packets": "truncated_packets",
    "data xmit time": "data_xmit_time_s",
    "idletime max": "idletime_max_s",
    "throughput": "throughput_Bps",
    "RTT samples": "rtt_samples",
    "RTT min": "rtt_min_ms",
    "RTT max": "rtt_max_ms",
    "RTT avg": "rtt_avg_ms",
    "RTT stdev": "rtt_stdev_ms",
    "RTT from 3WHS": "rtt_from_3whs_ms",
    "RTT full_sz smpls": "rtt_full_sz_smpls",
    "RTT full_sz min": "rtt_full_sz_min_ms",
    "RTT full_sz max": "rtt_full_sz_max_ms",
    "RTT full_sz avg": "rtt_full_sz_avg_ms",
    "RTT full_sz stdev": "rtt_full_sz_stdev_ms",
    "post-loss acks": "post_loss_acks",
    "ambiguous acks": "ambiguous_acks",
    "RTT min (last)": "rtt_min_last_ms",
    "RTT max (last)": "rtt_max_last_ms",
    "RTT avg (last)": "rtt_avg_last_ms",
    "RTT sdv (last)": "rtt_sdv_last_ms",
    "segs cum acked": "segs_cum_acked",
    "duplicate acks": "duplicate_acks",
    "triple dupacks": "triple_dupacks",
    "max # retrans": "max_retrans",
    "min retr time": "min_retr_time_ms",
    "max retr time": "max_retr_time_ms",
    "avg retr time": "avg_retr_time_ms",
    "sdv retr time": "sdv_retr_time_ms",
}
# printed only when the value is not the default (output.c's conditions): absent means this value. ("sacks sent" is
# printed only when a side asked for SACK, whatever its value: absent, it is not compared.)
ABSENT = {"resets sent": "0", "req 1323 ws/ts": "N/N", "adv wind scale": "0", "req sack": "N",
          "ambiguous acks": "0", "RTT min (last)": "0.0", "RTT max (last)": "0.0", "RTT avg (last)": "0.0",
          "RTT sdv (last)": "0.0"}  # fmt: skip
STAT = re.compile(r"^\s+(.+?):\s+(\S+)(?: (bytes|pkts|times|secs|ms|Bps))?\s+(.+?):\s+(\S+)")
HOST = re.compile(r"^\s+host (\w+):\s+(\S+)$")
# classic's documented defects (docs/vocabulary-tcptrace.md), by name
DEFECTS = {
    "mss_signed": "MSS above 32767 printed as a signed short (65476 -> 4294967236)",
    "avg_rounded": "average segment size rounded down after dividing by packets + 0.001",
    "avg_integer": "average window printed as an integer (division rounded down)",
    "avg_n0001": "averages divided by n + 0.0001",
    "trunc_header": "the TCP header bytes the snap length cut counted as truncated data too",
    "missed_negative": "missed data below 0 printed as an unsigned 64-bit number",
    "libpcap_snaplen": "libpcap cuts each frame to the file header's snap length, also where the record holds more",
    "usec_time": "times in microseconds: nanosecond timestamps cut (throughput over a slightly different duration)",
}


def run_classic(capture: Path) -> str:
    return subprocess.run([CLASSIC, "-l", "-n", "-r", str(capture)], capture_output=True, text=True,
                          timeout=120).stdout  # fmt: skip


def parse(text: str) -> list[dict[str, Any]]:
    """Classic's connections: {"a": endpoint, "b": endpoint, "a2b": {label: text}, "b2a": {...}}."""
    conns: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for line in text.splitlines():
        if line.startswith("TCP connection ") and line.rstrip().endswith(":"):
            cur = {"a2b": {}, "b2a": {}}
            conns.append(cur)
            continue
        if cur is None:
            continue
        if line.startswith(("\tfirst packet:", "\tlast packet:")):
            cur["first" if "first" in line else "last"] = line.split(":", 1)[1].strip()
            continue
        m = HOST.match(line)
        if m and "a" not in cur:
            cur["a"] = m.group(2)
            continue
        if m:
            cur["b"] = m.group(2)
            continue
        m = STAT.match(line)
        if m and m.group(1) == m.group(4):
            label = m.group(1)
            if label == "initial window":
                label += " " + (m.group(3) or "")
            cur["a2b"][label] = m.group(2)
            cur["b2a"][label] = m.group(5)
    return conns


def _endpoint(text: str) -> str:
    return text.replace("[", "").replace("]", "")


def _num(text: str) -> float | None:
    if text == "NA":
        return None
    return int(text) if text.lstrip("-").isdigit() else float(text)  # exact: 2^64 - 64 is not a float


def compare_field(label: str, theirs: str, d: dict[str, Any]) -> str:
    """'equal', a DEFECTS key, or 'differs'."""
    key = LABELS[label]
    if key == "syn_fin_pkts_sent":
        return "equal" if theirs == f"{d['syn_pkts_sent']}/{d['fin_pkts_sent']}" else "differs"
    if key == "req_1323_ws_ts":
        mine = f"{'Y' if d['req_1323_ws'] else 'N'}/{'Y' if d['req_1323_ts'] else 'N'}"
        return "equal" if theirs == mine else "differs"
    if key == "req_sack":
        return "equal" if theirs == ("Y" if d["req_sack"] else "N") else "differs"
    ours = d[key]
    if key.endswith("_s") and key != "data_xmit_time_s":
        ours = None if ours is None else ours * 1000  # idletime max is printed in ms
    t = _num(theirs)
    if t is None or ours is None:
        return "equal" if t is None and ours is None else "differs"
    if key == "data_xmit_time_s":
        return "equal" if f"{ours:.3f}" == theirs else "differs"
    if key.endswith("_ms") or key in ("idletime_max_s", "throughput_Bps"):
        digits = 0 if key == "throughput_Bps" else 1
        if f"{ours:.{digits}f}" == theirs or abs(ours - t) <= 0.5 * 10**-digits + 1e-9:
            return "equal"
        if "avg" in key and abs(ours - t) <= abs(ours) * 2e-4 + 0.05:
            return "avg_n0001"
        us = d.get("_elapsed_us", 0)
        if key == "throughput_Bps" and us > 0 and abs(d["unique_bytes_sent"] / (us / 1e6) - t) <= 0.5 + 1e-9:
            return "usec_time"
        return "differs"
    if t == ours:
        return "equal"
    if key == "mss_requested" and t >= 2**31 and t - 2**32 + 65536 == ours:
        return "mss_signed"
    if key == "avg_segm_size":
        n, b = d["actual_data_pkts"], d["actual_data_bytes"]
        return "avg_rounded" if t == int(b / (n + 0.001)) else "differs"
    if key == "avg_win_adv":
        return "avg_integer" if t == int(ours) else "differs"
    if key == "truncated_data" and ours < t <= ours + 40 * d["truncated_packets"]:
        return "trunc_header"
    if key in ("truncated_data", "truncated_packets") and t > ours and d.get("_snaplen_cuts"):
        return "libpcap_snaplen"
    if key == "missed_data" and t >= 2**63 and t - 2**64 == ours:
        return "missed_negative"
    return "differs"


def pcap_snaplen(capture: Path) -> int | None:
    """The snap length of a pcap file's header, gzipped or not (None for other formats)."""
    with gzip.open(capture) if capture.suffix == ".gz" else capture.open("rb") as f:
        head = f.read(24)
    if len(head) < 24:
        return None
    for order in ("<", ">"):
        if struct.unpack(order + "I", head[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D):
            return int(struct.unpack(order + "I", head[16:20])[0])
    return None


def ts2ascii(ts_ns: int) -> str:
    """print.c ts2ascii: asctime of the local time with the microseconds spliced in (classic's first/last packet)."""
    sec, usec = divmod(ts_ns // 1000, 1_000_000)
    now = time.asctime(time.localtime(sec))
    return f"{now[:19]}.{usec:06d} {now[20:24]}"


def compare(capture: Path, summaries: list[Any]) -> dict[str, Any]:
    """Per field: counts of 'equal', each defect and 'differs' over the connections both tools delimit alike and
    read with the same payload lengths; also how many connections are delimited differently (``unmatched``) or
    read with other lengths (``lengths``), and the differing examples."""
    conns = parse(run_classic(capture))
    snaplen = pcap_snaplen(capture)
    ours: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in summaries:
        v = s.to_dict()["tcptrace"]
        v["first"], v["last"] = ts2ascii(s.first_ts), ts2ascii(s.last_ts)
        for side in ("a2b", "b2a"):  # classic's connection time, from timestamps cut to microseconds
            v[side]["_elapsed_us"] = s.last_ts // 1000 - s.first_ts // 1000
            v[side]["_snaplen_cuts"] = snaplen is not None and v[side]["max_segm_size"] + 40 > snaplen
        ours.setdefault((_endpoint(v["host_a"]), _endpoint(v["host_b"])), []).append(v)
    seen: dict[tuple[str, str], int] = {}
    fields: dict[str, dict[str, int]] = {}
    examples: list[str] = []
    matched = unmatched = lengths = 0
    for c in conns:
        if "a" not in c or "b" not in c:
            continue
        key = (_endpoint(c["a"]), _endpoint(c["b"]))
        i = seen.get(key, 0)
        seen[key] = i + 1
        cands = ours.get(key, [])
        v = cands[i] if i < len(cands) else None
        # the same connection: the same packets each way, from the same first to the same last packet
        if (
            v is None
            or (v["first"], v["last"]) != (c.get("first"), c.get("last"))
            or any(str(v[side]["total_packets"]) != c[side].get("total packets") for side in ("a2b", "b2a"))
        ):
            unmatched += 1
            continue
        # ... and the same payload lengths: classic takes a segment's length from the IP header even where the frame
        # was shorter on the wire (TSO/GRO captures, frames saved with their cut length); Wireshark's tcp.len, and
        # so ours, stops at the frame (docs/vocabulary-tcptrace.md, "Connections")
        if any(str(v[side]["actual_data_bytes"]) != c[side].get("actual data bytes") for side in ("a2b", "b2a")):
            lengths += 1
            continue
        matched += 1
        for side in ("a2b", "b2a"):
            for label in LABELS:
                theirs = c[side].get(label, ABSENT.get(label))
                if theirs is None:
                    continue
                verdict = compare_field(label, theirs, v[side])
                fields.setdefault(label, {}).setdefault(verdict, 0)
                fields[label][verdict] += 1
                if verdict == "differs" and len(examples) < 40:
                    examples.append(f"{capture.name} {key[0]}-{key[1]}#{i} {side} {label}: classic {theirs}, "
                                    f"ours {v[side].get(LABELS[label])}")  # fmt: skip
    return {"fields": fields, "matched": matched, "unmatched": unmatched, "lengths": lengths, "examples": examples}


def captures(sample_dir: Path, corpus: Path | None) -> list[Path]:
    out = sorted(p for p in sample_dir.iterdir() if p.suffix in (".pcap", ".pcapng"))
    if corpus is not None and corpus.is_dir():
        out += sorted(
            p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap", ".dmp", ".gz")
        )
    return out


Summarize = Callable[[Path], list[Any]]
