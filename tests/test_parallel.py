"""``--jobs`` and ``--dask`` (tcptrace.parallel): the analysis split by connection gives what one pass gives, byte
for byte, and the split itself is the same function in C and Python."""

from __future__ import annotations

import heapq
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import c_engine
from hypothesis import HealthCheck, given, settings
from test_engine import RANDOM_CAPTURE, _build

from tcptrace.cli import main
from tcptrace.parallel import Docs, Rows, analyse_part, merge_parts, partition_of, renumbered_row, run_parts
from tcptrace.selection import Selection

SAMPLES = Path(__file__).resolve().parent.parent / "sample_pcaps"
ALL_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.pcap*"))


def _engine() -> object:
    return c_engine("tcptrace.parallel needs it; without it --jobs runs one process")


def _pcap_records(path: Path) -> tuple[bytes, list[tuple[int, bytes]]]:
    data = path.read_bytes()
    assert struct.unpack_from("<I", data)[0] == 0xA1B2C3D4
    assert struct.unpack_from("<I", data, 20)[0] == 1
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, caplen, _origlen = struct.unpack_from("<IIII", data, pos)
        out.append((sec * 1_000_000 + usec, data[pos : pos + 16 + caplen]))
        pos += 16 + caplen
    return data[:24], out


def _moved(rec: bytes, copy: int) -> bytes:
    """A pcap record (header included) with copy added to the third byte of both IPv4 addresses: another
    connection with the same packets (checksums are not verified)."""
    frame = bytearray(rec)
    ip = 16 + 14
    if copy and frame[28:30] == b"\x08\x00" and frame[ip] >> 4 == 4:
        frame[ip + 14] = (frame[ip + 14] + copy) % 256
        frame[ip + 18] = (frame[ip + 18] + copy) % 256
    return bytes(frame)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Ethernet sample captures (real loopback traffic), three copies of each on other addresses, merged by
    time as mergecap does: interleaved connections, port reuse, resets, refusals, losses; some 80 streams."""
    header = b""
    lists = []
    for i, name in enumerate(["echo_ipv4.pcap", "port_reuse.pcap", "lossy_bulk.pcap", "abort_rst.pcap",
                              "refused.pcap", "reuse_after_rst.pcap", "http_keepalive.pcap",
                              "dialogue_threaded.pcap", "fin_lost.pcap", "half_close.pcap", "syn_timeout.pcap",
                              "zero_window.pcap", "keepalive.pcap", "rst_after_close.pcap"]):  # fmt: skip
        header, recs = _pcap_records(SAMPLES / name)
        base = recs[0][0]
        for copy in range(3):
            shift = i * 1_777 + copy * 50_111  # the captures overlap in time
            lists.append([(ts - base + shift, _moved(rec, copy)) for ts, rec in recs])
    out = tmp_path_factory.mktemp("parallel") / "mixed.pcap"
    body = []
    for ts, rec in heapq.merge(*lists, key=lambda r: r[0]):
        body.append(struct.pack("<II", 1_700_000_000 + ts // 1_000_000, ts % 1_000_000) + rec[8:])
    out.write_bytes(header + b"".join(body))
    return str(out)


def _run(args: list[str]) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, args)
    return r.exit_code, r.stdout, r.stderr


def test_partition_is_the_same_in_c_and_python(mixed: str) -> None:
    """Engine.partition(k, n) tracks exactly the connections partition_of puts in part k, and the n parts
    together track every connection once."""
    from tcptrace.capture import open_capture
    from tcptrace.engine import new_engine

    module = _engine()
    whole = new_engine(module)
    open_capture(mixed).feed(whole)
    ends = [whole.lifecycle(i) for i in range(whole.flow_count())]
    assert len(ends) > 20
    for n in (2, 3, 5):
        seen = 0
        for k in range(n):
            eng = new_engine(module)
            eng.partition(k, n)
            open_capture(mixed).feed(eng)
            mine = [eng.lifecycle(i) for i in range(eng.flow_count())]
            assert mine, "a part with no connection tests nothing: pick other n"
            for life in mine:
                assert partition_of(life.client_addr, life.client_port, life.server_addr, life.server_port, n) == k
            seen += len(mine)
        assert seen == len(ends)


def test_partition_of_both_directions_and_spread() -> None:
    a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    parts = {partition_of(a, 80, b, port, 4) for port in range(40000, 40064)}
    assert parts == {0, 1, 2, 3}
    v6a, v6b = bytes(15) + b"\1", bytes(15) + b"\2"
    for port in range(1000, 1010):
        assert partition_of(v6a, port, v6b, 443, 3) == partition_of(v6b, 443, v6a, port, 3)


def test_partition_argument_errors() -> None:
    from tcptrace.engine import new_engine

    eng = new_engine(_engine())
    for k, n in ((0, 0), (3, 3)):
        with pytest.raises(ValueError, match="0 <= k < n"):
            eng.partition(k, n)  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [[], ["--format", "csv"], ["--format", "json"], ["--long"], ["--port", "20000"],
                                  ["-s", "2", "-s", "9", "--format", "json"], ["--host", "10.99.0.0/16"],
                                  ["-s", "999"], ["--port", "1"]])  # fmt: skip
def test_flows_jobs_equal_one_pass(mixed: str, args: list[str]) -> None:
    _engine()
    one = _run(["flows", mixed, *args, "--jobs", "1"])
    assert one[0] in (0, 1, 2)
    for jobs in ("2", "3"):
        assert _run(["flows", mixed, *args, "--jobs", jobs]) == one


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_flows_json_jobs_equal_one_pass_on_every_sample(name: str) -> None:
    _engine()
    path = str(SAMPLES / name)
    assert _run(["flows", path, "--format", "json", "-j", "3"]) == _run(["flows", path, "--format", "json", "-j", "1"])


@pytest.mark.parametrize("args", [["--require", "handshake", "--require", "graceful-close"],
                                  ["--forbid", "rst", "--max-retransmissions", "2", "-v"],
                                  ["--max-rtt", "1", "--port", "20000"], ["--strict", "-s", "3"]])  # fmt: skip
def test_check_jobs_equal_one_pass(mixed: str, args: list[str]) -> None:
    _engine()
    one = _run(["check", mixed, *args, "-j", "1"])
    assert _run(["check", mixed, *args, "-j", "2"]) == one


def test_stream_numbers_are_by_first_appearance(mixed: str) -> None:
    """The merged parts number streams as one pass does even when every part is alone: parts with interleaved
    first frames (each part's own numbers start at 0)."""
    _engine()
    parts = [analyse_part([mixed], k, 4, Rows(Selection())) for k in range(4)]
    assert all(p.results and p.results[0][0] == 0 for p in parts)
    items, stats, total = merge_parts(parts)
    rows = [renumbered_row(r, n) for n, r in items]
    from tcptrace.engine import flow_rows, summarize_lazily

    summaries, one_stats = summarize_lazily(mixed)
    assert rows == list(flow_rows(summaries))
    assert total == len(summaries)
    assert stats == one_stats


def test_standard_input_runs_in_one_process() -> None:
    from tcptrace.parallel import jobs_for

    assert jobs_for(["-"], 4) == 1
    assert jobs_for([str(SAMPLES / "echo_ipv4.pcap")], None, auto=True) == 1  # small: not worth the processes
    assert jobs_for([str(SAMPLES / "echo_ipv4.pcap")], 3) == 3


def test_dask_local_cluster_of_two(mixed: str) -> None:
    """A LocalCluster of 2 workers gives the one-pass documents."""
    _engine()
    distributed = pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    from tcptrace.engine import summarize

    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c,
        distributed.Client(c) as client,
    ):
        items, _stats, total = run_parts([mixed], 0, Docs(Selection(), True), dask=client)
        docs = [{**d, "stream": n} for n, d in items]
    summaries, _ = summarize(mixed)
    assert total == len(summaries)
    assert docs == [s.to_dict() for s in summaries]


def test_dask_cli_local(mixed: str) -> None:
    _engine()
    pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    assert _run(["flows", mixed, "--format", "csv", "--dask", "local"]) == _run(["flows", mixed, "--format", "csv"])


def test_dask_missing_is_one_line(mixed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    code, _out, err = _run(["flows", mixed, "--dask", "local"])
    assert code == 2
    assert "tcptrace[dask]" in err
    assert "Traceback" not in err


def _late_copy_capture(path: Path) -> str:
    """Stream A closes (FINs acknowledged) at 0.1 s and a copy of its last ACK comes at 4 s; stream B, in the other
    part of two, sends a packet every 0.4 s in between. One pass tells A when B's packets pass A's end by 2 s, so
    A's copy is late (counted, not narrated); a part alone sees nothing between A's end and the copy, and must
    move its clock by B's packets all the same."""
    import pcapgen as g

    a_port = 41000
    b_port = next(p for p in range(42000, 43000)
                  if partition_of(bytes([10, 0, 0, 1]), p, bytes([10, 0, 0, 2]), 80, 2)
                  != partition_of(bytes([10, 0, 0, 1]), a_port, bytes([10, 0, 0, 2]), 80, 2))  # fmt: skip
    c, s = "10.0.0.1", "10.0.0.2"

    def pkt(sport: int, dport: int, seq: int, ack: int, flags: int, src: str, dst: str, payload: bytes = b"") -> bytes:
        return g.ether(g.ipv4(g.tcp(sport, dport, seq, ack, flags, 502, payload=payload), src, dst))

    t0 = 1_700_000_000_000_000_000
    recs: list[g.Rec] = []
    a = [pkt(a_port, 80, 100, 0, g.SYN, c, s), pkt(80, a_port, 500, 101, g.SYN | g.ACK, s, c),
         pkt(a_port, 80, 101, 501, g.ACK, c, s), pkt(a_port, 80, 101, 501, g.FIN | g.ACK, c, s),
         pkt(80, a_port, 501, 102, g.FIN | g.ACK, s, c), pkt(a_port, 80, 102, 502, g.ACK, c, s)]  # fmt: skip
    recs += [g.Rec(p, t0 + i * 20_000_000) for i, p in enumerate(a)]
    b = [pkt(b_port, 80, 7000, 0, g.SYN, c, s), pkt(80, b_port, 9000, 7001, g.SYN | g.ACK, s, c)]
    b += [pkt(b_port, 80, 7001 + i, 9001, g.ACK | g.PSH, c, s, b"x") for i in range(10)]
    recs += [g.Rec(p, t0 + 50_000_000 + i * 400_000_000) for i, p in enumerate(b)]
    recs.append(g.Rec(a[-1], t0 + 4_000_000_000))  # A's last ACK again, 3.9 s after A ended
    recs.sort(key=lambda r: r.ts_ns)
    path.write_bytes(g.pcap(recs))
    return str(path)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_explain_parts_move_their_clock_by_the_others(tmp_path: Path, fmt: str) -> None:
    _engine()
    capture = _late_copy_capture(tmp_path / "late.pcap")
    one = _run(["explain", capture, "--format", fmt, "-j", "1"])
    assert one[0] == 0
    assert ('late_segments": 1' if fmt == "json" else "after it ended") in one[1]  # the copy is late in one pass
    assert _run(["explain", capture, "--format", fmt, "-j", "2"]) == one


def test_explain_read_once_moves_the_clock_by_the_others(tmp_path: Path) -> None:
    """The read-once path on a LocalCluster of 2 (a part gets its own frames only): the other part's segments'
    times come from the file's clock (parallel.foreign_times), so A's copy is late there too."""
    _engine()
    distributed = pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    from tcptrace import parallel

    capture = _late_copy_capture(tmp_path / "late.pcap")
    one = _run(["explain", capture, "--format", "json", "-j", "1"])[1]
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c,
        distributed.Client(c) as client,
    ):
        read = parallel._read_once(client, [capture], 2, clock=True)
        assert read is not None  # one file, read once
        with parallel.explain_document([capture], 2, {"fmt": "json"}, dask=client) as doc:
            assert "".join(doc.pieces()) == one


def test_foreign_times_are_the_engines() -> None:
    """parallel.foreign_times from a split's clock equals Engine.take_foreign of a pass that reads every frame
    and tracks one part (the mixed capture's parts of three)."""
    _engine()
    from tcptrace.capture import open_capture
    from tcptrace.engine import engine_module, new_engine
    from tcptrace.parallel import foreign_times, split_file

    path = str(SAMPLES / "dialogue_threaded.pcap")
    clock = split_file(path, 3, None, clock=True).clock
    assert clock is not None
    for k in range(3):
        eng = new_engine(engine_module())
        eng.partition(k, 3)
        eng.keep(lambda *a: True)
        eng.packets(0, tuple(b"" for _ in range(512)))
        cap = open_capture(path)
        got: list[int | None] = []
        for _ in cap.feed_steps(eng):
            eng.take_kept()
            got += eng.take_foreign()
        want = [None if x == -(2**63) else x for x in struct.unpack(f"<{len(got)}q", foreign_times([clock], k)[0])]
        assert got == want


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "html"])
def test_explain_jobs_equal_one_pass(mixed: str, fmt: str) -> None:
    _engine()
    one = _run(["explain", mixed, "--format", fmt, "-j", "1"])
    assert one[0] == 0
    for jobs in ("2", "3"):
        assert _run(["explain", mixed, "--format", fmt, "-j", jobs]) == one


def test_explain_dask_local_cluster(mixed: str) -> None:
    _engine()
    distributed = pytest.importorskip("dask.distributed", reason="tcptrace[dask] is not installed")
    from tcptrace.parallel import explain_document

    one = _run(["explain", mixed, "--format", "json"])[1]
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c,
        distributed.Client(c) as client,
        explain_document([mixed], 0, {"fmt": "json"}, dask=client) as doc,
    ):
        assert "".join(doc.pieces()) == one


def _part_pass(path: str, k: int, n: int, numbered: bool) -> tuple[list[tuple[int, int]], list[int | None], Any]:
    """One part's pass (Engine.partition(k, n, numbered)): its segments as (stream, frame), their foreign times, and
    the engine."""
    from tcptrace.capture import open_capture
    from tcptrace.engine import engine_module, new_engine

    eng = new_engine(engine_module())
    eng.partition(k, n, numbered)
    eng.keep(lambda *a: True)
    eng.packets(0, tuple(b"" for _ in range(512)))
    segs: list[tuple[int, int]] = []
    foreign: list[int | None] = []
    for _ in open_capture(path).feed_steps(eng):
        segs += [(s.stream, s.frame) for s in eng.take_kept()]
        foreign += eng.take_foreign()
    return segs, foreign, eng


@pytest.mark.parametrize("name", ["mixed", "port_reuse.pcap", "reuse_after_rst.pcap", "echo_ipv6.pcapng", "vlan.pcap"])
def test_a_part_counting_every_stream_numbers_them_as_one_pass(mixed: str, name: str) -> None:
    """Engine.partition(k, n, True), explain's parts: the other parts' streams counted as they begin (light_track:
    new four-tuples, a SYN reusing ports), so each of the part's streams gets one pass's number without a numbering
    pass; the part's own segments and foreign times are those of the plain partition."""
    _engine()
    from tcptrace.engine import Pipeline
    from tcptrace.parallel import numbering

    path = mixed if name == "mixed" else str(SAMPLES / name)
    if not Path(path).exists():
        pytest.skip(f"{name} is not among the samples")
    total = len({s.stream for s in Pipeline(path)})
    n = 3
    numbers = numbering([analyse_part([path], k, n, lambda eng, i: None) for k in range(n)])
    for k in range(n):
        own, own_foreign, _ = _part_pass(path, k, n, False)
        segs, foreign, eng = _part_pass(path, k, n, True)
        assert (segs, foreign) == (own, own_foreign)
        assert eng.stream_numbers(0) == numbers[k].tolist()
        assert eng.stream_numbers(eng.flow_count()) == []
        assert eng.streams_seen() == total
    with pytest.raises(ValueError, match="stream_numbers"):
        _part_pass(path, 0, n, False)[2].stream_numbers(0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**RANDOM_CAPTURE)
def test_random_sequences_numbered_as_one_pass(
    spec: list[dict[str, Any]], isn: int, link: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Port reuse (SYNs with new and repeated ISNs on a reused four-tuple, SYN+ACKs moving a base), short and
    bogus headers, snapped frames: the counted numbers are numbering()'s, the count one pass's."""
    _engine()
    from tcptrace.engine import engine_module, new_engine
    from tcptrace.parallel import numbering

    path = str(tmp_path_factory.mktemp("num") / "r.pcap")
    Path(path).write_bytes(_build(spec, isn, link))
    one = new_engine(engine_module())
    from tcptrace.capture import open_capture

    open_capture(path).feed(one)
    for n in (2, 3):
        numbers = numbering([analyse_part([path], k, n, lambda eng, i: None) for k in range(n)])
        for k in range(n):
            eng = _part_pass(path, k, n, True)[2]
            assert eng.stream_numbers(0) == numbers[k].tolist()
            assert eng.streams_seen() == one.flow_count()


def test_explain_part_counts_every_stream(mixed: str) -> None:
    _engine()
    from tcptrace.engine import Pipeline
    from tcptrace.parallel import explain_part

    total = len({s.stream for s in Pipeline(mixed)})
    parts = [explain_part([mixed], k, 2, {"fmt": "text"}) for k in range(2)]
    assert [p.total for p in parts] == [total, total]
    told = sorted(n for p in parts for n, *_ in p.told)
    assert told == list(range(total))


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.stats = None


def _refuse() -> None:
    exc = _Refused("no such stream")
    exc.stats = {"warnings": ["w"]}  # an attribute, as NoSuchStream carries the reader's statistics
    raise exc


def test_beside_returns_what_the_child_computed() -> None:
    from tcptrace.parallel import beside

    seen = []
    assert beside(lambda: (os.getpid(), [1, 2, 3]), lambda: seen.append(os.getpid()))[1] == [1, 2, 3]
    assert seen == [os.getpid()]


def test_beside_raises_the_childs_exception_with_its_attributes() -> None:
    from tcptrace.parallel import beside

    with pytest.raises(_Refused, match="no such stream") as caught:
        beside(_refuse, lambda: None)
    assert caught.value.stats == {"warnings": ["w"]}


# beside forks only where no other thread runs; a Dask LocalCluster of an earlier test may leave threads in this
# process, so these run in a fresh interpreter
_BESIDE_DIED = """
import os, signal, sys
from tcptrace import parallel
from tcptrace.errors import TcptraceError
parent = os.getpid()
def work():
    assert os.getpid() != parent
    os.kill(os.getpid(), signal.SIGKILL)
try:
    parallel.beside(work, lambda: None)
except TcptraceError as exc:
    print(exc)
"""

_BESIDE_MEANWHILE_FAILS = """
import os, time
from pathlib import Path
from tcptrace import parallel
def children():
    return Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
def boom():
    assert len(children()) == 1  # the child is running
    raise KeyboardInterrupt
try:
    parallel.beside(lambda: time.sleep(30), boom)
except KeyboardInterrupt:
    print("interrupted; children left:", len(children()))
"""


_BESIDE_RAISES = """
from tcptrace import parallel
from tcptrace.errors import UnsupportedLinkType
def work():
    raise UnsupportedLinkType(147, 2)
try:
    parallel.beside(work, lambda: None)
except UnsupportedLinkType as exc:
    print(exc.linktype, exc.interface, exc)
"""


def _fresh(script: str) -> str:
    from tcptrace import parallel

    if not hasattr(os, "fork") or parallel._cores() < 2 or not Path("/proc/self/task").is_dir():
        pytest.skip("beside runs the work in this process here (no fork or one core), or no /proc")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_beside_says_when_the_child_died() -> None:
    assert _fresh(_BESIDE_DIED) == "the process reading the capture stopped without a result (signal 9)"


def test_beside_raises_an_error_made_by_another_init_as_it_was() -> None:
    """UnsupportedLinkType's __init__ takes the link type, not its message: raised again as it was raised."""
    want = "147 2 unsupported link type 147 (USER0) on interface 2; tcptrace reads Ethernet, Linux cooked"
    assert _fresh(_BESIDE_RAISES).startswith(want)


def test_beside_does_not_leave_its_child_when_meanwhile_fails() -> None:
    assert _fresh(_BESIDE_MEANWHILE_FAILS) == "interrupted; children left: 0"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed CLI in a fresh interpreter (its own process: where beside forks)."""
    return subprocess.run([sys.executable, "-m", "tcptrace", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)  # fmt: skip


@pytest.mark.parametrize("command", ["diagram", "graph"])
def test_images_read_beside_matplotlib_are_the_ones_drawn_in_process(tmp_path: Path, command: str) -> None:
    """diagram/graph -o PNG read the stream in a child process while importing matplotlib (parallel.beside): the
    image is the one the API draws in one process, and a missing stream is still one line."""
    pytest.importorskip("matplotlib")
    capture = str(SAMPLES / "lossy_bulk.pcap")
    r = _cli(command, capture, "-s", "0", "-o", "cli.png", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    if command == "diagram":
        from tcptrace.diagram import save_ladder
        from tcptrace.ladder import ladder_for

        save_ladder(ladder_for(capture, 0), tmp_path / "api.png")
    else:
        from tcptrace.engine import StreamSegments
        from tcptrace.graph import save_graph_from

        source = StreamSegments(capture, 0)
        save_graph_from(source, lambda: source.summary, "tsg", tmp_path / "api.png")
    assert (tmp_path / "cli.png").read_bytes() == (tmp_path / "api.png").read_bytes()
    r = _cli(command, capture, "-s", "9", "-o", "none.png", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, f"tcptrace: error: no TCP stream 9 in {capture} (it has 1 stream: 0)\n")
    assert not (tmp_path / "none.png").exists()


_LOAD_MATPLOTLIB = """
import inspect
import matplotlib.artist
from tcptrace.output import load_matplotlib
load_matplotlib()
import matplotlib.text
kept = matplotlib.artist.Artist.__dict__["_update_set_signature_and_docstring"]
text = matplotlib.text.Text(0, 0, "hi")
text.set(fontsize=3, color="red")
class Mine(matplotlib.artist.Artist):
    pass
print(text.get_fontsize(), text.get_color(), "alpha" in inspect.signature(Mine.set).parameters,
      "alpha" in inspect.signature(matplotlib.text.Text.set).parameters, type(kept).__name__)
"""


def test_load_matplotlib_skips_the_set_signatures_and_puts_the_method_back() -> None:
    """The CLI's matplotlib import leaves out the artists' generated set() signatures (output.load_matplotlib):
    set() still takes every property, and an artist class defined afterwards gets its signature."""
    pytest.importorskip("matplotlib")
    r = subprocess.run([sys.executable, "-c", _LOAD_MATPLOTLIB], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["3.0", "red", "True", "False", "classmethod"]


_PARENT_MODULES = """
import sys
import tcptrace.cli as cli
cli.main(["diagram", "-s", "0", "-o", sys.argv[1], sys.argv[2]], standalone_mode=False)
print(" ".join(sorted(m for m in sys.modules if m.startswith("tcptrace"))))
"""


def test_the_image_commands_process_imports_only_the_drawing(tmp_path: Path) -> None:
    """diagram -o IMAGE: the capture is read and the ladder built in the child (parallel.beside), so the command's
    own process, whose import of matplotlib and drawing are the command's time, imports nothing that reads
    captures or builds ladders: not the engine, the reader, the analysis nor the builder (tcptrace.ladder)."""
    pytest.importorskip("matplotlib")
    from tcptrace import parallel

    if not hasattr(os, "fork") or parallel._cores() < 2:
        pytest.skip("beside runs the work in this process here (no fork or one core)")
    args = [str(tmp_path / "d.png"), str(SAMPLES / "lossy_bulk.pcap")]
    r = subprocess.run([sys.executable, "-c", _PARENT_MODULES, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    modules = set(r.stdout.splitlines()[-1].split())
    assert {"tcptrace.diagram", "tcptrace.ladder_values", "tcptrace.parallel"} <= modules
    assert not modules & {"tcptrace.engine", "tcptrace.capture", "tcptrace.analysis", "tcptrace.ladder",
                          "tcptrace.narrate", "tcptrace.check"}  # fmt: skip
