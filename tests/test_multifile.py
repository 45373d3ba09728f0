"""Several capture files read as one (tcptrace.sources, capture.MergedReader) and --start/--end.

The proof: a real capture cut into pieces at arbitrary packet boundaries by Wireshark's editcap (``-c N``: N
packets a file, ``-i S``: S seconds a file), connections spanning the cuts, gives on the pieces exactly what it
gives whole (flows JSON, packets JSONL, explain JSON; only the ``file`` fields and the ``capture`` name differ), in
both engines, the pieces named in any order or as their directory. Files from two vantage points (overlapping in
time) give what the file mergecap merges from them gives. Without editcap/mergecap those tests are skipped.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import engines

from tcptrace.capture import open_capture
from tcptrace.cli import main
from tcptrace.errors import CaptureError
from tcptrace.model import SkipReason
from tcptrace.selection import Selection
from tcptrace.sources import CaptureSet, TimeRange, TimeRangeError, expand_captures, parse_time

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
CORPUS = ROOT.parent / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")

# Real captures with several connections: ours (loopback) and public ones with many (98 and 60 streams)
CAPTURES = [
    SAMPLES / "dialogue_threaded.pcap",
    SAMPLES / "lossy_bulk.pcap",
    SAMPLES / "port_reuse.pcap",
    SAMPLES / "echo_ipv6.pcapng",
    CORPUS / "ntop+nDPI" / "1kxun.pcap",
    CORPUS / "ntop+nDPI" / "sites.pcapng",
]

needs_editcap = pytest.mark.skipif(shutil.which("editcap") is None, reason="Wireshark's editcap is not installed")
needs_mergecap = pytest.mark.skipif(shutil.which("mergecap") is None, reason="Wireshark's mergecap is not installed")


def run(args: list[str], engine: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def packets_of(path: Path) -> int:
    cap = open_capture(str(path))
    for _ in cap:
        pass
    return cap.stats.frames


def split(src: Path, out: Path, pieces: int) -> list[Path]:
    """``src`` cut by editcap into about ``pieces`` files of equal packet counts."""
    per = max(1, -(-packets_of(src) // pieces))
    out.mkdir()
    fmt = "pcapng" if src.suffix == ".pcapng" else "pcap"  # the pieces in the whole's format: its stats the same
    subprocess.run(["editcap", "-F", fmt, "-c", str(per), str(src), str(out / f"piece{src.suffix}")], check=True)
    files = sorted(out.iterdir())
    assert 2 <= len(files) <= 50
    return files


def first_times(files: list[Path]) -> list[Path]:
    """``files`` in the order tcptrace ranks them (their first frames' times, then as named)."""

    def first(path: Path) -> int:
        out = subprocess.run(["capinfos", "-a", "-S", "-T", "-r", str(path)], check=True, capture_output=True,
                             text=True).stdout  # fmt: skip
        sec, _, frac = out.split()[-1].partition(".")
        return int(sec) * 10**9 + int(frac.ljust(9, "0")[:9])

    return [f for _t, _i, f in sorted((first(f), i, f) for i, f in enumerate(files))]


def mergecap(files: list[Path], out: Path) -> None:
    """mergecap's merge of ``files`` with ties broken as tcptrace breaks them: mergecap 4.0 puts the file named
    last first on a tie (capture.MergedReader, "Ties"), so it is given the files in the reverse of our order."""
    fmt = "pcapng" if out.suffix == ".pcapng" else "pcap"
    subprocess.run(["mergecap", "-F", fmt, "-w", str(out), *map(str, reversed(first_times(files)))], check=True)


def in_time_order(path: Path) -> bool:
    """Whether no frame of ``path`` is earlier than the one before it (capinfos -o, else our reader's segments)."""
    if shutil.which("capinfos"):
        out = subprocess.run(["capinfos", "-o", str(path)], check=True, capture_output=True, text=True).stdout
        return "Strict time order:   True" in out
    times = [s.ts_ns for s in open_capture(str(path))]
    return times == sorted(times)


def without_files(jsonl: str) -> tuple[list[dict[str, object]], list[tuple[str, int]]]:
    recs, where = [], []
    for line in jsonl.splitlines():
        rec = json.loads(line)
        where.append((rec.pop("file"), rec.pop("file_frame")))
        recs.append(rec)
    return recs, where


def without_capture(doc: str) -> dict[str, object]:
    """A flows or explain JSON document without what names the input: ``capture``, and explain's per-flow
    ``files`` (there only when several files were read)."""
    d = json.loads(doc)
    d.pop("capture")
    for flow in d.get("flows", []):
        if "steps" in flow:
            flow.pop("files", None)
    return d


@needs_editcap
@pytest.mark.parametrize("engine", engines())
@pytest.mark.parametrize("pieces", [2, 7, 50])
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_pieces_read_as_the_whole(
    capture: Path, pieces: int, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not capture.exists():
        pytest.skip(f"{capture} is not here (the shared corpus is not part of the repository)")
    files = split(capture, tmp_path / "pieces", pieces)
    shuffled = [str(f) for f in files]
    random.Random(pieces).shuffle(shuffled)  # ring-buffer files named in any order: merged by time
    whole = str(capture)
    ordered = in_time_order(capture)
    if not ordered:
        # sites.pcapng joins captures of several years out of order: its pieces merged by time are mergecap's
        # merge of them, not the file
        if shutil.which("mergecap") is None:
            pytest.skip(f"{capture.name} is not in time order, and mergecap is not installed to merge its pieces")
        whole = str(tmp_path / f"merged{capture.suffix}")
        mergecap(files, Path(whole))

    flows = run(["flows", "--format", "json", *shuffled], engine, monkeypatch)
    assert without_capture(flows) == without_capture(run(["flows", "--format", "json", whole], engine, monkeypatch))

    got, where = without_files(run(["packets", "--format", "jsonl", *shuffled], engine, monkeypatch))
    want = [json.loads(line) for line in run(["packets", "--format", "jsonl", whole], engine, monkeypatch).splitlines()]
    assert got == want
    # each frame's file and number there: frame n of piece k is frame k * (frames a piece) + n of the whole
    per_file = packets_of(files[0])
    located = [(files.index(Path(name)) * per_file + local) for name, local in where]
    if ordered:
        assert located == [rec["frame"] for rec in got]
    else:  # merged by time: every frame of the whole is still there once
        assert len(set(located)) == len(located) == len(got)

    explain = run(["explain", "--format", "json", str(tmp_path / "pieces")], engine, monkeypatch)
    for flow in json.loads(explain)["flows"]:  # the pieces the flow's packets are in, in reading order
        assert flow["files"]
        assert flow["files"] == sorted(flow["files"], key=lambda f: files.index(Path(f))) or not ordered
    assert without_capture(explain) == without_capture(run(["explain", "--format", "json", whole], engine, monkeypatch))


@needs_editcap
@pytest.mark.parametrize("engine", engines())
def test_pieces_cut_by_time(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """editcap -i: a file per 0.05 s of lossy_bulk (its retransmissions and the connection span the cuts)."""
    capture = SAMPLES / "lossy_bulk.pcap"
    out = tmp_path / "t"
    out.mkdir()
    subprocess.run(["editcap", "-F", "pcap", "-i", "0.05", str(capture), str(out / "t.pcap")], check=True)
    assert 2 <= len(list(out.iterdir())) <= 50
    glob = str(out / "t_*.pcap")  # a quoted pattern: expanded by tcptrace
    got = run(["flows", "--format", "json", glob], engine, monkeypatch)
    assert without_capture(got) == without_capture(
        run(["flows", "--format", "json", str(capture)], engine, monkeypatch)
    )
    got_p, _ = without_files(run(["packets", "--format", "jsonl", glob], engine, monkeypatch))
    want = run(["packets", "--format", "jsonl", str(capture)], engine, monkeypatch)
    assert got_p == [json.loads(line) for line in want.splitlines()]


def vantage_points(capture: Path, out: Path) -> tuple[Path, Path]:
    """Two overlapping captures of ``capture``'s traffic: what each side sent, as two taps would see it."""
    a, b = out / "a.pcap", out / "b.pcap"
    first = json.loads(CliRunner().invoke(main, ["flows", "--format", "json", str(capture)]).stdout)["flows"][0]
    client = first["client"].rsplit(":", 1)[0].strip("[]")
    subprocess.run(["tcpdump", "-r", str(capture), "-w", str(a), f"src host {client}"], check=True, capture_output=True)
    subprocess.run(["tcpdump", "-r", str(capture), "-w", str(b), f"not src host {client}"], check=True,
                   capture_output=True)  # fmt: skip
    return a, b


@needs_mergecap
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
@pytest.mark.parametrize("engine", engines())
@pytest.mark.parametrize("capture", [SAMPLES / "lossy_bulk.pcap", SAMPLES / "dialogue_threaded.pcap"],
                         ids=lambda p: p.name)  # fmt: skip
def test_overlapping_files_merge_as_mergecap(
    capture: Path, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = vantage_points(capture, tmp_path)
    merged = tmp_path / "merged.pcap"
    mergecap([a, b], merged)
    for args in (["flows", "--format", "json"], ["explain", "--format", "json"]):
        got = run([*args, str(b), str(a)], engine, monkeypatch)
        assert without_capture(got) == without_capture(run([*args, str(merged)], engine, monkeypatch))
    got_p, where = without_files(run(["packets", "--format", "jsonl", str(a), str(b)], engine, monkeypatch))
    want = run(["packets", "--format", "jsonl", str(merged)], engine, monkeypatch)
    assert got_p == [json.loads(line) for line in want.splitlines()]
    assert {name for name, _ in where} == {str(a), str(b)}  # really interleaved


@needs_mergecap
@pytest.mark.parametrize("engine", engines())
def test_link_types_and_formats_mixed(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Linux cooked (SLL2) pcap, an Ethernet pcap and a pcapng: one capture, in mergecap's order. Interfaces are
    numbered per file here (mergecap numbers the second file's after the first's), so they are left out."""
    files = [SAMPLES / "echo_sll2.pcap", SAMPLES / "echo_ipv4.pcap", SAMPLES / "echo_ipv6.pcapng"]
    merged = tmp_path / "merged.pcapng"
    mergecap(files, merged)
    got, _ = without_files(run(["packets", "--format", "jsonl", *map(str, files)], engine, monkeypatch))
    want = [
        json.loads(line)
        for line in run(["packets", "--format", "jsonl", str(merged)], engine, monkeypatch).splitlines()
    ]
    for rec in got + want:
        rec.pop("interface")
    assert got == want
    flows = json.loads(run(["flows", "--format", "json", *map(str, files)], engine, monkeypatch))
    assert flows["stats"]["format"] == "pcap+pcapng"
    assert [f["client"] for f in flows["flows"]] == [
        f["client"] for f in json.loads(run(["flows", "--format", "json", str(merged)], engine, monkeypatch))["flows"]
    ]


# --- naming the files -----------------------------------------------------------------------------------------


def test_directory_walk_takes_captures_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    shutil.copy(SAMPLES / "echo_ipv4.pcap", tmp_path / "b.pcap")
    shutil.copy(SAMPLES / "echo_ipv6.pcapng", tmp_path / "sub" / "a.cap")
    shutil.copy(SAMPLES / "echo_ipv4.pcap", tmp_path / ".hidden" / "c.pcap")
    (tmp_path / "README").write_text("not a capture")
    assert expand_captures([tmp_path]) == [str(tmp_path / "b.pcap"), str(tmp_path / "sub" / "a.cap")]
    # named twice (a file and its directory): read once
    assert expand_captures([tmp_path / "b.pcap", tmp_path]) == [
        str(tmp_path / "b.pcap"),
        str(tmp_path / "sub" / "a.cap"),
    ]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["nowhere.pcap"], "cannot open nowhere.pcap: No such file or directory"),
        (["nowhere*.pcap"], "nowhere*.pcap: no file matches this pattern"),
        (["-", "x.pcap"], "cannot open x.pcap"),
    ],
)
def test_naming_errors_are_one_line(
    words: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["flows", *words])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"tcptrace: error: {message}"] or message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_directory_and_stdin_with_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["packets", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"tcptrace: error: {tmp_path}: a directory without capture files (pcap, pcapng or compressed ones)\n"
    )
    with pytest.raises(CaptureError, match="standard input"):
        expand_captures(["-", str(SAMPLES / "echo_ipv4.pcap")])


def test_stdin_still_reads() -> None:
    data = (SAMPLES / "echo_ipv4.pcap").read_bytes()
    result = CliRunner().invoke(main, ["flows", "--format", "csv", "-"], input=data)
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2


# --- time ranges ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns", "relative"),
    [
        ("+10", 10_000_000_000, True),
        ("+10s", 10_000_000_000, True),
        ("+1.5m", 90_000_000_000, True),
        ("+250ms", 250_000_000, True),
        ("+2h", 7_200_000_000_000, True),
        ("+0.000000001", 1, True),
        ("1714564800", 1_714_564_800_000_000_000, False),
        ("1714564800.25", 1_714_564_800_250_000_000, False),
        ("2024-05-01T12:00:00Z", 1_714_564_800_000_000_000, False),
        ("2024-05-01 14:00:00+02:00", 1_714_564_800_000_000_000, False),
        ("2024-05-01T12:00:00.5", 1_714_564_800_500_000_000, False),
        ("2024-05-01", 1_714_521_600_000_000_000, False),
        ("2024-05-01T07:30:00-04:30", 1_714_564_800_000_000_000, False),
        ("2024-05-01T12:00:00.123456789Z", 1_714_564_800_123_456_789, False),  # pcapng's nanoseconds
        ("2024-05-01T12:00", 1_714_564_800_000_000_000, False),
    ],
)
def test_time_grammar(text: str, ns: int, relative: bool) -> None:
    b = parse_time(text)
    assert (b.ns, b.relative) == (ns, relative)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "+", "+5x", "-5s", "2024-13-01", "2024-05-01T25:00", "2024-05-01+25:00"]
)
def test_bad_times_are_usage_errors(text: str) -> None:
    with pytest.raises(TimeRangeError):
        parse_time(text)
    result = CliRunner().invoke(main, ["flows", str(SAMPLES / "echo_ipv4.pcap"), "--start", text])
    assert result.exit_code == 2
    assert "--start" in result.stderr


def _frames_and_times(path: Path) -> list[tuple[int, int]]:
    cap = open_capture(str(path), keep_skipped=True)
    segs = [(s.frame, s.ts_ns) for s in cap]
    return segs


@pytest.mark.parametrize("engine", engines())
@pytest.mark.parametrize("capture", [SAMPLES / "lossy_bulk.pcap", SAMPLES / "echo_ipv6.pcapng"], ids=lambda p: p.name)
def test_time_range_keeps_the_frames_within(capture: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """--start/--end keep exactly the frames within the range (both ends included), frame numbers unchanged; the
    others are counted as outside it. Relative and absolute bounds naming the same instants agree."""
    segs = _frames_and_times(capture)
    first = open_capture(str(capture))
    next(iter(first))
    origin = first.stats.first_ts_ns
    assert origin is not None
    lo_seg, hi_seg = segs[len(segs) // 4], segs[3 * len(segs) // 4]
    lo_rel, hi_rel = lo_seg[1] - origin, hi_seg[1] - origin
    want = [frame for frame, ts in segs if lo_seg[1] <= ts <= hi_seg[1]]
    args_rel = ["--start", f"+{lo_rel}ns", "--end", f"+{hi_rel}ns"]
    args_abs = [
        "--start",
        f"{lo_seg[1] // 10**9}.{lo_seg[1] % 10**9:09d}",
        "--end",
        f"{hi_seg[1] // 10**9}.{hi_seg[1] % 10**9:09d}",
    ]
    for args in (args_rel, args_abs):
        out = run(["packets", "--format", "jsonl", str(capture), *args], engine, monkeypatch)
        assert [json.loads(line)["frame"] for line in out.splitlines()] == want
        doc = json.loads(run(["flows", "--format", "json", str(capture), *args], engine, monkeypatch))
        total = open_capture(str(capture))
        for _ in total:
            pass
        outside = doc["stats"]["skipped"].get("out_of_time_range", 0)
        assert doc["stats"]["frames"] == total.stats.frames
        assert doc["stats"]["tcp_segments"] == len(want)
        assert outside == total.stats.frames - len(want) - sum(
            n for k, n in doc["stats"]["skipped"].items() if k != "out_of_time_range"
        )
        assert outside > 0


def test_time_range_in_the_api() -> None:
    cs = CaptureSet([str(SAMPLES / "echo_ipv4.pcap")], TimeRange.parse(end="+0.0001"))
    cap = open_capture(cs)
    frames = [s.frame for s in cap]
    assert frames == [3, 4, 5]
    assert cap.stats.skipped[SkipReason.OUT_OF_TIME_RANGE] == 7


# --- Community ID in the outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", engines())
@pytest.mark.parametrize("capture", ["dialogue_threaded.pcap", "echo_ipv6.pcapng", "port_reuse.pcap"])
def test_community_id_per_flow_and_packet(capture: str, engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same Community ID per stream in flows JSON and CSV, and on each of its packets (jsonl, csv): the value
    Zeek's conn.log gives the connection (checked against the spec's vectors in test_zeek_model)."""
    from tcptrace.zeek import community_id

    path = str(SAMPLES / capture)
    doc = json.loads(run(["flows", "--format", "json", path], engine, monkeypatch))
    by_stream = {f["stream"]: f["community_id"] for f in doc["flows"]}
    for f in doc["flows"]:
        assert f["community_id"] == f["zeek"]["community_id"]
    rows = run(["flows", "--format", "csv", path], engine, monkeypatch).splitlines()
    head = rows[0].split(",")
    assert head[-1] == "community_id"
    assert [r.rsplit(",", 1)[1] for r in rows[1:]] == [by_stream[n] for n in sorted(by_stream)]
    for line in run(["packets", "--format", "jsonl", path], engine, monkeypatch).splitlines():
        rec = json.loads(line)
        assert rec["community_id"] == by_stream[rec["stream"]]
    csv_rows = run(["packets", "--format", "csv", path], engine, monkeypatch).splitlines()
    col = csv_rows[0].split(",").index("community_id")
    assert {r.split(",")[col] for r in csv_rows[1:]} == set(by_stream.values())
    # and it is the 4-tuple's: the same either way round
    some = doc["flows"][0]
    (ca, cp), (sa, sp) = (_split_endpoint(some["client"]), _split_endpoint(some["server"]))
    assert community_id(ca, sa, cp, sp) == community_id(sa, ca, sp, cp) == some["community_id"]


def _split_endpoint(text: str) -> tuple[bytes, int]:
    import ipaddress

    host, _, port = text.rpartition(":")
    return ipaddress.ip_address(host.strip("[]")).packed, int(port)


# --- damaged pieces ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", engines())
@pytest.mark.parametrize("cut", [24 + 10, 500, 970])
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_cut_piece_warns_with_its_name(
    cut: int, fmt: str, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A piece cut short (a ring buffer's file being written) is read up to the cut with a warning naming it; the
    other pieces are read whole; no traceback, in both engines."""
    src = SAMPLES / ("echo_ipv6.pcapng" if fmt == "pcapng" else "port_reuse.pcap")
    good = tmp_path / f"a.{fmt}"
    good.write_bytes(src.read_bytes())
    cut_file = tmp_path / f"b.{fmt}"
    cut_file.write_bytes((SAMPLES / "echo_ipv4.pcap").read_bytes()[:cut])
    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    result = CliRunner().invoke(main, ["flows", "--format", "json", str(good), str(cut_file)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert any(w.startswith(f"{cut_file}: ") for w in doc["stats"]["warnings"])
    assert f"warning: {cut_file}: " in result.stderr
    alone = json.loads(CliRunner().invoke(main, ["flows", "--format", "json", str(good)]).stdout)
    assert doc["stats"]["tcp_segments"] >= alone["stats"]["tcp_segments"]


def test_a_file_that_is_not_a_capture_among_captures(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pcap"
    bad.write_text("not a capture at all\n")
    result = CliRunner().invoke(main, ["packets", str(SAMPLES / "echo_ipv4.pcap"), str(bad)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"tcptrace: error: {bad}: not a pcap or pcapng capture")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("engine", engines())
def test_damaged_pieces_never_traceback(engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random bytes changed in pieces of a pcap and a pcapng read together: results or one clean CaptureError, the
    same in both engines (the fuzz test's promise, for merged reading)."""
    from tcptrace.engine import summarize

    monkeypatch.setenv("TCPTRACE_ENGINE", engine)
    sources = [(SAMPLES / "port_reuse.pcap").read_bytes(), (SAMPLES / "echo_ipv6.pcapng").read_bytes(),
               (SAMPLES / "lossy_bulk.pcap").read_bytes()[:5000]]  # fmt: skip
    rng = random.Random(18)
    for trial in range(60):
        paths = []
        for k, data in enumerate(sources):
            buf = bytearray(data)
            for _ in range(rng.randint(0, 6)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            if rng.random() < 0.3:
                del buf[rng.randrange(len(buf)) :]
            path = tmp_path / f"{trial}-{k}.cap"
            path.write_bytes(bytes(buf))
            paths.append(str(path))
        try:
            summaries, stats = summarize(CaptureSet(paths, TimeRange.parse(start="+0.0001") if trial % 2 else None))
        except CaptureError:
            continue
        assert stats.frames >= stats.tcp_segments
        assert sum(s.packets for s in summaries) == stats.tcp_segments


@pytest.mark.skipif(len(engines()) < 2, reason="the C engine is not built: nothing to compare the reference with")
@pytest.mark.parametrize(
    "words",
    [["lossy_bulk.pcap"], ["echo_ipv6.pcapng"], ["port_reuse.pcap", "echo_ipv6.pcapng", "dialogue_threaded.pcap"]],
    ids=lambda w: "+".join(w),
)
@pytest.mark.parametrize(("start", "end"), [("+0.002", "+0.004"), ("+0.001", None), (None, "+0.0005")])
def test_time_range_engines_agree(
    words: list[str], start: str | None, end: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both engines give the same documents for a time range: every statistic, classic's idle time to the last
    frame within the range included, and the packets with their analysis."""
    args = [str(SAMPLES / w) for w in words]
    args += [*(["--start", start] if start else []), *(["--end", end] if end else [])]
    for command in (["flows", "--format", "json"], ["packets", "--format", "jsonl"], ["explain", "--format", "json"]):
        docs = [run([*command, *args], engine, monkeypatch) for engine in ("python", "c")]
        assert docs[0] == docs[1]


@needs_editcap
@pytest.mark.parametrize("how", [["--jobs", "2"], ["--dask", "local"]], ids=["jobs2", "dask"])
@pytest.mark.parametrize("capture", [SAMPLES / "dialogue_threaded.pcap", CORPUS / "ntop+nDPI" / "1kxun.pcap"],
                         ids=lambda p: p.name)  # fmt: skip
def test_pieces_split_by_connection_read_as_the_whole(
    capture: Path, how: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #18's proof for the parallel runs: the pieces analysed in parts (tcptrace.parallel: each part reads
    every piece, merged by time, and keeps its share of the connections) give the whole file's flows and explain
    documents, as one process does."""
    if not capture.exists():
        pytest.skip(f"{capture} is not here (the shared corpus is not part of the repository)")
    if engines() == ["python"]:
        pytest.skip("parts of a capture need the C engine (without it --jobs runs one process)")
    if how[0] == "--dask":
        pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    files = [str(f) for f in split(capture, tmp_path / "pieces", 7)]
    whole = str(capture)
    for command in (["flows", "--format", "json"], ["explain", "--format", "json"]):
        want = without_capture(run([*command, whole], "auto", monkeypatch))
        assert without_capture(run([*command, *how, *files], "auto", monkeypatch)) == want


def _read_once_spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each --dask run took the read-once path (tcptrace.parallel._read_once read the files)."""
    from tcptrace import parallel

    taken: list[bool] = []
    real = parallel._read_once

    def spy(*args: object, **kw: object) -> object:
        got = real(*args, **kw)  # type: ignore[arg-type]
        taken.append(got is not None)
        return got

    monkeypatch.setattr(parallel, "_read_once", spy)
    return taken


@needs_editcap
@pytest.mark.parametrize(
    "capture",
    [SAMPLES / "dialogue_threaded.pcap", SAMPLES / "echo_ipv6.pcapng", CORPUS / "ntop+nDPI" / "1kxun.pcap"],
    ids=lambda p: p.name,
)
@pytest.mark.parametrize("pieces", [2, 9])
def test_dask_reads_each_piece_once(
    capture: Path, pieces: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #18's Dask design: a task per file reads and decodes it once and splits its TCP frames by connection,
    a task per part analyses its frames from every file in the capture's frame order; the flows, check and explain
    results are the whole file's, byte for byte (apart from the input's name and explain's per-flow files)."""
    if not capture.exists():
        pytest.skip(f"{capture} is not here (the shared corpus is not part of the repository)")
    if engines() == ["python"]:
        pytest.skip("the read-once path needs the C engine")
    pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    files = [str(f) for f in split(capture, tmp_path / "pieces", pieces)]
    random.Random(pieces).shuffle(files)
    taken = _read_once_spy(monkeypatch)
    for command in (["flows", "--format", "json"], ["flows", "--format", "csv"]):
        want = run([*command, str(capture)], "auto", monkeypatch)
        got = run([*command, "--dask", "local", *files], "auto", monkeypatch)
        if "json" in command:
            assert without_capture(got) == without_capture(want)
        else:
            assert got == want
    check = ["check", "--forbid", "rst", "--max-retransmissions", "3", "-v"]
    got_check = CliRunner().invoke(main, [*check, "--dask", "local", *files])
    want_check = CliRunner().invoke(main, [*check, str(capture)])
    assert got_check.exit_code == want_check.exit_code
    assert got_check.stdout.splitlines()[:-1] == want_check.stdout.splitlines()[:-1]  # the last names the input
    explain = run(["explain", "--format", "json", "--dask", "local", *files], "auto", monkeypatch)
    assert without_capture(explain) == without_capture(run(["explain", "--format", "json", str(capture)], "auto",
                                                           monkeypatch))  # fmt: skip
    pieces_text = run(["explain", *files], "auto", monkeypatch)
    assert run(["explain", "--dask", "local", *files], "auto", monkeypatch) == pieces_text
    assert taken == [True] * 5


@needs_editcap
def test_dask_read_once_with_a_time_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An absolute --start/--end is applied as each file is read; one relative to the capture's start needs the
    first frame of every file first: every task then reads the whole input. Both give one pass's result."""
    pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    if engines() == ["python"]:
        pytest.skip("the read-once path needs the C engine")
    capture = SAMPLES / "lossy_bulk.pcap"
    files = [str(f) for f in split(capture, tmp_path / "pieces", 5)]
    first = open_capture(str(capture))
    for _ in first:
        pass
    assert first.stats.first_ts_ns is not None
    start = f"{(first.stats.first_ts_ns + 50_000_000) / 1e9:.6f}"
    taken = _read_once_spy(monkeypatch)
    for window in (["--start", start], ["--start", "+0.05", "--end", "+0.2"]):
        want = run(["flows", "--format", "json", *window, str(capture)], "auto", monkeypatch)
        got = run(["flows", "--format", "json", *window, "--dask", "local", *files], "auto", monkeypatch)
        assert without_capture(got) == without_capture(want)
    assert taken == [True, False]


@needs_mergecap
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_dask_overlapping_files_read_by_every_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of two vantage points overlap in time: the merge interleaves their frames, which a part cannot number
    from the files alone; every task reads the whole input and the result is still the merged capture's."""
    pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    if engines() == ["python"]:
        pytest.skip("the read-once path needs the C engine")
    a, b = vantage_points(SAMPLES / "lossy_bulk.pcap", tmp_path)
    taken = _read_once_spy(monkeypatch)
    want = run(["flows", "--format", "json", str(a), str(b)], "auto", monkeypatch)
    assert run(["flows", "--format", "json", "--dask", "local", str(a), str(b)], "auto", monkeypatch) == want
    assert taken == [False]


def test_split_records_feed_back_to_one_pass(tmp_path: Path) -> None:
    """Engine.split and Engine.feed_frames in one process: every sample's TCP frames split into three parts and fed
    back part by part give the streams, rows and first frames the parts of one pass give (Engine.partition)."""
    from tcptrace.engine import engine_module, new_engine
    from tcptrace.parallel import Rows, analyse_part, analyse_split, split_file

    if engine_module() is None:
        pytest.skip("the C engine is not built")
    for path in sorted(SAMPLES.glob("*.pcap*")):
        split_up = split_file(str(path), 3, None)
        assert split_up.error is None
        assert split_up.frames == packets_of(path)
        for k in range(3):
            pieces = [(0, split_up.linktypes, split_up.parts[k])]
            got = analyse_split(pieces, split_up.stats.last_ts_ns, Rows(Selection()))
            want = analyse_part([str(path)], k, 3, Rows(Selection()))
            assert (got.first_frames, got.streams, got.results) == (want.first_frames, want.streams, want.results), path
    eng = new_engine(engine_module())
    with pytest.raises(ValueError, match="not a record"):
        eng.feed_frames(b"\x00" * 40, 0, [], lambda *a: None)


def test_damaged_files_split_as_one_pass_reads_them(tmp_path: Path) -> None:
    """Random bytes changed in captures (and some cut short): a file split by Engine.split and its parts fed back
    give every part's streams, rows and first frames that Engine.partition's passes give, and the same reader
    statistics; or both ways raise the same one-line CaptureError. The read-once path on hostile input."""
    from tcptrace.engine import engine_module
    from tcptrace.parallel import Rows, analyse_part, analyse_split, split_file

    if engine_module() is None:
        pytest.skip("the C engine is not built")
    sources = [(SAMPLES / n).read_bytes() for n in ("lossy_bulk.pcap", "echo_ipv6.pcapng", "dialogue_threaded.pcap",
                                                    "vlan.pcap", "echo_sll2.pcap")]  # fmt: skip
    rng = random.Random(1812)
    for trial in range(80):
        data = bytearray(sources[trial % len(sources)])
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(24, len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(24, len(data)) :]
        path = tmp_path / f"{trial}.cap"
        path.write_bytes(bytes(data))
        try:
            want = [analyse_part([str(path)], k, 2, Rows(Selection())) for k in range(2)]
        except CaptureError as exc:
            with pytest.raises(CaptureError, match=re.escape(str(exc))):
                split_file(str(path), 2, None)
            continue
        got = split_file(str(path), 2, None)
        assert got.error is None
        assert got.stats.as_dict() == want[0].stats.as_dict()
        for k in range(2):
            part = analyse_split([(0, got.linktypes, got.parts[k])], got.stats.last_ts_ns, Rows(Selection()))
            assert (part.first_frames, part.streams, part.results) == (
                want[k].first_frames,
                want[k].streams,
                want[k].results,
            ), trial
