"""Analysis in several processes (``--jobs N``) or on a Dask cluster (``--dask ADDRESS``), with results identical
to one pass (docs/scale.md).

Theory of operation. A stream's analysis reads only its own segments, the capture's frame numbers and the time of
the capture's last frame (classic tcptrace's idle time runs to it). So ``n`` passes over the same input, pass ``k``
tracking only the connections whose canonical four-tuple falls in part ``k`` (``Engine.partition``, the hash
:func:`partition_of`), together analyse every stream exactly once and exactly as one pass does: every segment of
a four-tuple, and so the port-reuse split of it (packet-tcp.c: a SYN with a new sequence number begins a new
stream), falls in one part; every pass reads every frame, so frame numbers and the trace's end are the capture's.

Only the stream numbers differ. A pass numbers its streams 0, 1, ... by first appearance among its own; Wireshark
numbers them by first appearance among all (tcp.stream). A stream's number is therefore the rank of its first
frame among every part's first frames (each part hands them in its own order, which is already increasing): the
parts' results are renumbered and merged in that order. A part's results never name another stream: a flow row or
document names its own stream only (the stream whose ports it reused is not in them), so renumbering is exact.

``explain`` names streams in its text, so its parts need the capture's numbers as they tell: a part that reads the
capture also counts the other parts' streams as they begin (``Engine.partition(k, n, True)``: a table of their
four-tuples, nothing analysed), which gives each of its streams one pass's number; the read-once path's parts,
which see only their own frames, are numbered first (a C pass per part lists the first frames). A part's
FlowStream moves its clock by the other parts' segments too (``Engine.take_foreign``), so that a stream is told,
and a late copy of its segments dropped, exactly when one pass would.

What is split is the analysis, not the reading: each pass still reads and decodes every frame. For ``flows`` that
is a third to two thirds of a pass (benchmarks/scale_bench.py), so it gains at most 1.2x on 2 cores and 1.5x on
any number; for ``explain`` (Python telling, ~60 µs a packet) the reading is negligible and the parts scale with the
cores. docs/scale.md has the numbers and the design that splits the reading too.

:func:`run_parts` runs the parts in local processes or as Dask tasks; ``per_stream`` is a module-level function
(it is pickled to the workers) returning one stream's result, ``None`` to leave it out.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .selection import Selection

T = TypeVar("T")

# When --jobs is not given, a command splits its input over the cores only where that pays (measured on the
# benchmark captures, benchmarks/scale_bench.py and docs/scale.md): for `explain`, whose telling is Python (some 60 µs
# a packet against 0.1-0.2 µs to read and decode it), from this much input on; `flows` and `check` spend a half to
# two thirds of a pass reading and decoding, which every part repeats, so they stay in one process unless asked.

_FNV_OFFSET, _FNV_PRIME, _MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def partition_of(src: bytes, sport: int, dst: bytes, dport: int, n: int) -> int:
    """Which of ``n`` parts a connection falls in, the same for both directions: the C engine's partition_of
    (FNV-1a over the address length and the lower endpoint then the higher, addresses as bytes and ports
    big-endian, then splitmix64's finaliser). Fixed and unkeyed, so every process on every machine agrees.

    >>> a, b = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    >>> partition_of(a, 80, b, 5000, 7) == partition_of(b, 5000, a, 80, 7)
    True
    """
    a, pa, b, pb = src, sport, dst, dport
    if (b, pb) < (a, pa):
        a, pa, b, pb = b, pb, a, pa
    h = _FNV_OFFSET
    for byte in (len(a), *a, pa >> 8, pa & 0xFF, *b, pb >> 8, pb & 0xFF):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & _MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & _MASK
    h ^= h >> 31
    return h % n


def open_input(paths: Sequence[str]) -> Any:
    """The one way a command's input is opened here: a list of one path or one tcptrace.sources.CaptureSet
    (several files read as one capture, a time range)."""
    from .capture import open_capture

    if len(paths) != 1:
        raise ValueError("one capture file at a time")
    return open_capture(paths[0])


def input_size(paths: Sequence[Any]) -> int | None:
    """The input's total size in bytes, or None when it cannot be read twice (standard input, a pipe, a live
    capture). A tcptrace.sources.CaptureSet counts its files."""
    total = 0
    for p in paths:
        for f in getattr(p, "paths", [p]):
            if not isinstance(f, (str, os.PathLike)) or os.fspath(f) == "-" or not os.path.isfile(f):
                return None
            try:
                total += os.stat(f).st_size
            except OSError:
                return None
    return total


PARALLEL_MIN_BYTES = 16 << 20  # smaller input: one process (starting the others costs more than they save)


def jobs_for(paths: Sequence[Any], jobs: int | None, *, auto: bool = False) -> int:
    """How many processes to use: ``jobs`` when given; else, for a command where splitting pays (``auto``:
    ``explain``, whose parts together cost what one pass does), the number of cores for input of at least
    :data:`PARALLEL_MIN_BYTES`; else 1 (``flows``, ``check``: every part reads the whole input, so two parts cost
    1.65x the CPU of one pass for 1.12x its speed, docs/scale.md). Always 1 for input that cannot be read twice and
    without the C engine (the pure-Python path is the reference, not the fast one)."""
    from .engine import engine_module

    size = input_size(paths)
    if size is None or engine_module() is None:
        return 1
    if jobs is not None:
        return max(1, jobs)
    if not auto or size < PARALLEL_MIN_BYTES:
        return 1
    return _cores()


@dataclass
class Part:
    """What one pass returns: its streams' first frames in its own order, the reader's statistics (the same in
    every part), how many streams it tracked, and ``(its stream number, result)`` for the streams kept."""

    first_frames: bytes  # array("q")
    stats: Any
    streams: int
    results: list[tuple[int, Any]]


def analyse_part(paths: Sequence[str], k: int, n: int, per_stream: Callable[[Any, int], Any]) -> Part:
    """Pass ``k`` of ``n`` (runs in a worker): the C engine over the whole input tracking part ``k``'s
    connections; ``per_stream(engine, stream)`` for each of them (its ``None`` leaves the stream out)."""
    from .engine import engine_module, new_engine

    module = engine_module()
    if module is None:  # pragma: no cover - jobs_for and the Dask path check first
        raise RuntimeError("parallel analysis needs the C engine")
    eng = new_engine(module)
    if n > 1:
        eng.partition(k, n)
    cap = open_input(paths)
    cap.feed(eng)
    return _part_of(eng, cap.stats, per_stream)


def _part_of(eng: Any, stats: Any, per_stream: Callable[[Any, int], Any]) -> Part:
    """What a part returns once its engine has seen its frames: first frames, and ``per_stream`` of each stream."""
    count = eng.flow_count()
    firsts = array("q", (eng.flow(i).first_frame for i in range(count)))
    results = []
    for i in range(count):
        r = per_stream(eng, i)
        if r is not None:
            results.append((i, r))
    return Part(firsts.tobytes(), stats, count, results)


def _run_local(paths: Sequence[str], n: int, per_stream: Callable[[Any, int], Any]) -> list[Part]:
    if n == 1:
        return [analyse_part(paths, 0, 1, per_stream)]
    return _pool_starmap(n, analyse_part, [(list(paths), k, n, per_stream) for k in range(n)])


def _pool_starmap(n: int, fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[Any]:
    import multiprocessing

    ctx = multiprocessing.get_context("fork" if _may_fork() else "spawn")  # fork starts a worker in milliseconds
    with ctx.Pool(n) as pool:
        return pool.starmap(fn, args)


def _may_fork() -> bool:
    """Whether this process can fork safely: the system has fork, and no other thread runs (a forked child gets
    only the forking thread; a lock another thread held stays locked in it)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _cores() -> int:
    """The processors this process may run on (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def beside(work: Callable[[], T], meanwhile: Callable[[], object]) -> T:
    """``work()``, computed in a forked child process while this one runs ``meanwhile()`` on another core: a
    command whose drawing library takes longer to import (matplotlib's figure and Agg canvas, ~0.5 s) than the
    capture's pass would otherwise wait for the one after the other (benchmarks/bench_draw.py). The result comes
    back pickled, so it must be small (a ladder, a graph's series: bounded however long the stream). What
    ``work`` raises is raised here, with its attributes. In this process, one after the other, where fork is
    missing or unsafe (another thread running) or there is one core.

    >>> beside(lambda: 6 * 7, lambda: None)
    42
    """
    if not _may_fork() or _cores() < 2:
        result = work()
        meanwhile()
        return result
    import pickle
    import signal
    import sys

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: work, its outcome down the pipe, and out without running the parent's exit handlers
        code = 0
        try:
            os.close(read_end)
            try:
                outcome: tuple[Any, ...] = (True, work())
            except BaseException as exc:  # raised again in the parent, made as it was (not by its __init__)
                outcome = (False, type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
            try:
                data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # an unpicklable outcome: said, not lost
                data = pickle.dumps((False, RuntimeError, (f"the child's result cannot be pickled: {exc}",), {}))
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        except BaseException:  # the parent sees an empty pipe and says so
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    finished = False
    try:
        with os.fdopen(read_end, "rb") as f:
            meanwhile()
            data = f.read()
        _, status = os.waitpid(pid, 0)
        finished = True
    finally:
        if not finished:  # meanwhile raised (or Ctrl-C): the child is not left running
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    if not data:
        from .errors import TcptraceError

        code = os.waitstatus_to_exitcode(status)
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        raise TcptraceError(f"the process reading the capture stopped without a result ({how})")
    outcome = pickle.loads(data)  # our own bytes, from the child forked above
    if outcome[0]:
        return outcome[1]  # type: ignore[no-any-return]
    _, kind, args, attrs = outcome
    # made as it was, without its __init__ (UnsupportedLinkType's takes other arguments than its args)
    raised: BaseException = kind.__new__(kind, *args)
    raised.__dict__.update(attrs)
    raise raised


@contextlib.contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A dask.distributed Client, closed on exit: ``local`` starts a LocalCluster on this machine (one worker
    process per core, its logging silenced below CRITICAL: a worker stopping with the cluster logs its lost
    heartbeat as an error) and stops it after."""
    import importlib
    import logging

    try:
        distributed: Any = importlib.import_module("dask.distributed")  # optional extra: typed as Any
    except ImportError as exc:
        from .errors import TcptraceError

        raise TcptraceError("--dask needs dask.distributed: pip install 'tcptrace[dask]'") from exc
    if address != "local":
        with distributed.Client(address) as client:
            yield client
        return
    quiet = logging.CRITICAL
    with (
        # dashboard on a free port (":0"; None means the default 8787, which another cluster may hold)
        distributed.LocalCluster(processes=True, threads_per_worker=1, dashboard_address=":0", silence_logs=quiet) as c,
        distributed.Client(c) as client,
    ):
        yield client


def _parts_on(client: Any, jobs: int | None) -> int:
    """How many parts on a Dask cluster: ``jobs`` when given, else as many as the cluster has threads."""
    return jobs or max(1, sum(client.nthreads().values()))


def _run_dask(client: Any, paths: Sequence[str], n: int, per_stream: Callable[[Any, int], Any]) -> list[Part]:
    """One task per part (``n``: :func:`_parts_on`). The workers read ``paths`` (a file system they share with
    this machine) and need tcptrace with its C engine installed."""
    futures = [client.submit(analyse_part, list(paths), k, n, per_stream, pure=False) for k in range(n)]
    parts: list[Part] = client.gather(futures)
    return parts


def run_parts(
    paths: Sequence[Any], jobs: int, per_stream: Callable[[Any, int], Any], *, dask: Any = None
) -> tuple[Iterator[tuple[int, Any]], Any, int]:
    """Analyse the input in ``jobs`` parts (local processes, or Dask tasks with ``dask``, a Client); return the
    kept ``(stream, result)`` in stream order (tcp.stream numbers, as one pass gives them), the reader's
    statistics and the number of streams. With Dask, the files are read once (:func:`run_read_once`) where that
    is exact; else every task reads the whole input."""
    if dask is None:
        return merge_parts(_run_local(paths, jobs, per_stream))
    n = _parts_on(dask, jobs)
    once = run_read_once(dask, paths, n, per_stream)
    if once is not None:
        parts, stats = once
        return merge_parts(parts, stats)
    return merge_parts(_run_dask(dask, paths, n, per_stream))


# --- the read-once path (docs/scale.md): decode per file, shuffle by connection, analyse per part ---------------


@dataclass
class SplitFile:
    """What reading one file returns (:func:`split_file`, a task per file): its reader's statistics, its frames,
    the first frame's time and the latest of any frame's, its interfaces' link types, and per part the records of
    its TCP frames whose four-tuple falls in that part (``Engine.take_split``; left on the worker that read the
    file: :func:`_meta` drops them, :func:`_piece` takes one part's). ``error``: why the file cannot be split
    (frames the C walks leave to Python's own pcapng block walk); the read-once path then gives way."""

    stats: Any
    frames: int
    first_ts: int | None
    max_ts: int | None
    linktypes: dict[int, int]
    parts: list[bytes]
    error: str | None = None
    clock: tuple[bytes, bytes] | None = None  # per TCP frame: its part (int32), its time (int64); explain only


def split_file(path: str, n: int, time_range: Any, clock: bool = False) -> SplitFile:
    """Read one capture file once (a Dask task): the C engine's walk and decode, each TCP frame into the records
    of its part (``Engine.split``: the partition hash of its canonical four-tuple, as ``Engine.partition``), its
    frames numbered within the file; with ``clock``, each TCP frame's part and time too (explain's parts)."""
    from .capture import _open_path
    from .engine import engine_module, new_engine
    from .sources import Window

    module = engine_module()
    if module is None:  # pragma: no cover - run_read_once checks first
        raise RuntimeError("the read-once path needs the C engine")
    reader = _open_path(path, False, None if time_range is None else Window(time_range))
    eng = new_engine(module)
    eng.split(n, clock)
    try:
        reader.feed(eng)
    except RuntimeError as exc:
        reader.close()
        return SplitFile(None, 0, None, None, {}, [], str(exc))
    reader._settle_warnings()
    parts, max_ts, times = eng.take_split()
    st = reader.stats
    return SplitFile(st, st.frames, st.first_ts_ns, max_ts, dict(st.linktypes), parts, None, times)


def _meta(f: SplitFile) -> SplitFile:
    return SplitFile(f.stats, f.frames, f.first_ts, f.max_ts, f.linktypes, [], f.error)


def _piece(f: SplitFile, k: int) -> bytes:
    return f.parts[k]


def _clock(f: SplitFile) -> tuple[bytes, bytes] | None:
    return f.clock


def analyse_split(
    pieces: list[tuple[int, dict[int, int], bytes]], last_ts: int | None, per_stream: Callable[[Any, int], Any]
) -> Part:
    """One part (a Dask task): its records from every file, in the merged capture's frame order (``pieces``:
    (frame offset, link types, records) per file in that order), fed to the C engine, which tracks, analyses
    and summarises them exactly as one pass over the merged capture (frame numbers the capture's, the trace's
    end its last frame's time); ``per_stream`` for each stream."""
    from .capture import _no_skip, engine_links
    from .engine import engine_module, new_engine

    module = engine_module()
    if module is None:  # pragma: no cover - run_read_once checks first
        raise RuntimeError("the read-once path needs the C engine")
    eng = new_engine(module)
    for offset, linktypes, records in pieces:
        eng.feed_frames(records, offset, engine_links(linktypes), _no_skip)
    if last_ts is not None:
        eng.saw_frame(last_ts)
    return _part_of(eng, None, per_stream)


def file_order(metas: Sequence[SplitFile]) -> list[int] | None:
    """The files in the merged capture's order when they do not overlap in time (a ring buffer, files one after
    another: capture.MergedReader then reads each in one go): by their first frame's time, a tie going to the one
    named first, each file's frames all no later than the next file's first. None when they overlap (the merge
    interleaves their frames: every task then reads the whole input)."""
    order = sorted((m.first_ts, i) for i, m in enumerate(metas) if m.frames and m.first_ts is not None)
    for (_, a), (first, _b) in itertools.pairwise(order):
        latest = metas[a].max_ts
        if latest is None or latest > first:
            return None
    return [i for _, i in order]


@dataclass
class _Read:
    """The reading half of the read-once path, done: the files, each one's metadata and its task (its records
    stay on the worker), the files in reading order with the frames before each, the last frame's time."""

    files: list[str]
    metas: list[SplitFile]
    splits: list[Any]
    order: list[int]
    offsets: dict[int, int]
    last_ts: int | None

    def pieces(self, client: Any, k: int) -> list[tuple[int, dict[int, int], Any]]:
        """Part ``k``'s records of every file, in reading order (futures: Dask moves only them to the part)."""
        return [(self.offsets[i], self.metas[i].linktypes, client.submit(_piece, self.splits[i], k, pure=False))
                for i in self.order]  # fmt: skip

    def stats(self) -> Any:
        from .capture import merged_stats

        return merged_stats([(f, m.stats) for f, m in zip(self.files, self.metas, strict=True)],
                            [(i, self.offsets[i]) for i in self.order])  # fmt: skip


def _read_once(client: Any, paths: Sequence[Any], n: int, clock: bool = False) -> _Read | None:
    """Read every file once, a task each (:func:`split_file`), or None where that would not be exact (see
    :func:`run_read_once`)."""
    from .engine import engine_module

    if len(paths) != 1 or engine_module() is None or input_size(paths) is None:
        return None
    source = paths[0]
    files = [os.fspath(f) for f in getattr(source, "paths", [source])]
    time_range = getattr(source, "time_range", None)
    if time_range is not None and any(b is not None and b.relative for b in (time_range.start, time_range.end)):
        return None
    splits = [client.submit(split_file, f, n, time_range, clock, pure=False) for f in files]
    metas: list[SplitFile] = client.gather([client.submit(_meta, s, pure=False) for s in splits])
    order = file_order(metas) if not any(m.error for m in metas) else None
    if order is None:
        return None
    offsets, done = {}, 0
    for i in order:
        offsets[i] = done
        done += metas[i].frames
    last_ts = next((metas[i].stats.last_ts_ns for i in reversed(order) if metas[i].stats.last_ts_ns is not None), None)
    return _Read(files, metas, splits, order, offsets, last_ts)


def run_read_once(
    client: Any, paths: Sequence[Any], n: int, per_stream: Callable[[Any, int], Any]
) -> tuple[list[Part], Any] | None:
    """The read-once path on a Dask cluster (docs/scale.md): a task per file reads and decodes it once and splits
    its TCP frames by the partition hash of their four-tuple (:func:`split_file`); a task per part feeds its
    records from every file, in the merged capture's frame order, to the C engine (:func:`analyse_split`); the
    parts' streams are numbered by first frame as :func:`merge_parts` numbers them. Only each part's share of
    the frames moves between workers (the records stay where they were read until a part asks for them).

    None where this would not be exact (then every task reads the whole input): standard input, a time range
    relative to the capture's start (it needs the merged capture's first frame before any file is read), files
    whose times overlap (frames interleaved by the merge), frames the C walks leave to Python. ``n`` parts."""
    read = _read_once(client, paths, n)
    if read is None:
        return None
    futures = [client.submit(analyse_split, read.pieces(client, k), read.last_ts, per_stream, pure=False)
               for k in range(n)]  # fmt: skip
    parts: list[Part] = client.gather(futures)
    return parts, read.stats()


def foreign_times(clocks: Sequence[tuple[bytes, bytes]], k: int) -> list[bytes]:
    """Per file (``clocks``: each TCP frame's part and time, the files in reading order), for each of part ``k``'s
    records in it, the latest time among the other parts' segments since part ``k``'s record before (INT64_MIN:
    none): what ``Engine.take_foreign`` says when a pass reads every frame and tracks part ``k`` only."""
    import numpy as np

    owners = [np.frombuffer(p, dtype=np.int32) for p, _t in clocks]
    owner = np.concatenate(owners) if owners else np.empty(0, dtype=np.int32)
    ts = np.concatenate([np.frombuffer(t, dtype=np.int64) for _p, t in clocks]) if clocks else np.empty(0, np.int64)
    mine = owner == k
    before = np.cumsum(mine) - mine  # each frame: part k's records before it
    out = np.full(int(mine.sum()) + 1, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(out, before[~mine], ts[~mine])
    counts = [int((o == k).sum()) for o in owners]
    bounds = np.cumsum([0, *counts])
    return [out[bounds[j] : bounds[j + 1]].tobytes() for j in range(len(clocks))]


def explain_split(
    paths: list[str], pieces: list[tuple[int, dict[int, int], bytes]], clocks: list[tuple[bytes, bytes]],
    order: list[int], stats: Any, k: int, n: int, numbers: list[int], options: dict[str, Any],
) -> ToldPart:  # fmt: skip
    """Part ``k`` of ``explain`` on the read-once path (a Dask task): its records of every file (in reading order,
    ``order`` the files' indexes) told as :func:`explain_part` tells a part, its clock moved by the other parts'
    segments from the files' clocks (:func:`foreign_times`)."""
    from .capture import PartCapture
    from .narrate import ExplainDocument

    foreign = foreign_times(clocks, k)
    mine = [(i, off, lt, rec, fts) for i, (off, lt, rec), fts in zip(order, pieces, foreign, strict=True)]
    capture = PartCapture(paths, mine, stats)
    with ExplainDocument(capture, part=(k, n, numbers), **options) as doc:  # type: ignore[arg-type]
        return ToldPart(doc.told(), dict(doc.late), doc.stats)


def numbering(parts: Sequence[Part]) -> list[Any]:
    """Each part's streams' capture numbers (tcp.stream): the rank of their first frames among all parts' (see
    the module docstring), as one NumPy array a part, increasing."""
    import numpy as np

    firsts = [np.frombuffer(p.first_frames, dtype=np.int64) for p in parts]
    joined = np.concatenate(firsts) if firsts else np.empty(0, dtype=np.int64)
    ranks = np.empty(len(joined), dtype=np.int64)
    ranks[np.argsort(joined, kind="stable")] = np.arange(len(joined), dtype=np.int64)
    bounds = np.cumsum([0, *(len(f) for f in firsts)])
    return [ranks[bounds[k] : bounds[k + 1]] for k in range(len(parts))]  # part k's stream i -> tcp.stream


def merge_parts(parts: Sequence[Part], stats: Any = None) -> tuple[Iterator[tuple[int, Any]], Any, int]:
    """Renumber the parts' streams by first appearance among all and merge them (see the module docstring);
    ``stats``: the reader's statistics when the parts did not read (the read-once path)."""
    number = numbering(parts)
    total = sum(len(n) for n in number)

    def numbered(part: Part, numbers: Any) -> Iterator[tuple[int, Any]]:
        for i, r in part.results:
            yield int(numbers[i]), r

    def merged() -> Iterator[tuple[int, Any]]:
        import heapq

        yield from heapq.merge(*map(numbered, parts, number), key=lambda item: item[0])

    return merged(), parts[0].stats if stats is None else stats, total


# --- explain: numbered first, then told by parts ----------------------------------------------------------------


def _nothing(eng: Any, i: int) -> None:
    return None


@dataclass
class ToldPart:
    """What one part of ``explain`` returns: its streams told (ExplainDocument.told), late segments, reader stats.
    With ``spool`` (local processes), each stream's text stays in that file and ``told`` has (offset, size) in
    its place, so the parent never holds the texts of a whole part (it copies them into its document's spool)."""

    told: list[tuple[int, str, bool, Any, Any]]
    late: dict[int, int]
    stats: dict[str, Any]
    spool: str | None = None
    total: int = 0  # the capture's streams, as a part that counts every part's streams says (explain_part)


def _told_part(doc: Any, spool: str | None) -> ToldPart:
    told = doc.told() if spool is None else doc.save_spool(spool)
    return ToldPart(told, dict(doc.late), doc.stats, spool, doc.streams_total)


def explain_part(paths: Sequence[str], k: int, n: int, options: dict[str, Any], spool: str | None = None) -> ToldPart:
    """Part ``k`` of ``n`` of ``explain`` (runs in a worker): its streams, told as one pass tells them (a FlowStream
    of the part whose engine counts the other parts' streams too, so numbers its own as the capture does; its clock
    moved by the other parts' segments too); ``spool``: a file for their texts (a local process), else
    they come back with the result (a Dask task)."""
    from .narrate import ExplainDocument

    if len(paths) != 1:
        raise ValueError("one capture file at a time")
    with ExplainDocument(paths[0], part=(k, n, None), **options) as doc:
        return _told_part(doc, spool)


def explain_document(paths: Sequence[str], jobs: int, options: dict[str, Any], *, dask: Any = None) -> Any:
    """``explain`` of the whole input in ``jobs`` parts (local processes, or Dask tasks with ``dask``): every part
    reads the input and tells its streams (:func:`explain_part`); the result is the
    :class:`~tcptrace.narrate.ExplainDocument` one pass gives. With Dask, every file is read once where that is
    exact (:func:`run_read_once`): there the parts' streams are numbered first (one pass of the C engine each over
    its frames, nothing told), and each part's clock is moved by the other parts' segments from the files' clocks
    (:func:`explain_split`)."""
    told: list[ToldPart]
    total: int | None = None  # the capture's streams, where the parts did not count them (numbered first)
    if dask is not None:
        n = _parts_on(dask, jobs)
        read = _read_once(dask, paths, n, clock=True)
        if read is not None:  # every file read once; the parts numbered, then told
            counted = [dask.submit(analyse_split, read.pieces(dask, k), read.last_ts, _nothing, pure=False)
                       for k in range(n)]  # fmt: skip
            numbers = [x.tolist() for x in numbering(dask.gather(counted))]
            clocks = [dask.submit(_clock, read.splits[i], pure=False) for i in read.order]
            stats = read.stats()
            futures = [dask.submit(explain_split, read.files, read.pieces(dask, k), clocks, read.order, stats, k, n,
                                   numbers[k], options, pure=False) for k in range(n)]  # fmt: skip
            total = sum(len(x) for x in numbers)
        else:
            futures = [dask.submit(explain_part, list(paths), k, n, options, pure=False) for k in range(n)]
        told = dask.gather(futures)
    else:
        import tempfile

        n = jobs
        with tempfile.TemporaryDirectory(prefix="tcptrace-explain-") as tmp:
            spools = [os.path.join(tmp, f"part-{k}") for k in range(n)]
            told = _pool_starmap(n, explain_part, [(list(paths), k, n, options, spools[k]) for k in range(n)])
            return _merged_told(paths, told, options, told[0].total)
    return _merged_told(paths, told, options, told[0].total if total is None else total)


def _texts(part: ToldPart) -> Iterator[tuple[int, str, bool, Any, str]]:
    """A part's told streams with their texts (read back from its spool file, one at a time)."""
    if part.spool is None:
        yield from part.told
        return
    with open(part.spool, "rb") as f:
        for n, ending, attention, shape, (offset, size) in part.told:
            f.seek(offset)
            yield n, ending, attention, shape, f.read(size).decode("utf-8", "surrogatepass")


def _merged_told(paths: Sequence[Any], told: list[ToldPart], options: dict[str, Any], total: int) -> Any:
    """The parts' told streams merged in stream order: the document one pass gives."""
    import heapq

    from .narrate import ExplainDocument

    late: dict[int, int] = {}
    for t in told:
        late.update(t.late)
    merged = heapq.merge(*(_texts(t) for t in told), key=lambda item: item[0])
    return ExplainDocument.merged(paths[0], options.get("lang", "en"), options.get("fmt", "text"), merged, late,
                                  told[0].stats, total)  # fmt: skip


# --- what each stream gives (run in the workers) ---------------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """The flows table's and CSV's lean row (stats.FlowRow) of each stream that ``selection`` (hosts and ports;
    stream numbers are chosen after renumbering) keeps."""

    selection: Selection

    def __call__(self, eng: Any, i: int) -> Any:
        from .stats import flow_row

        if not _kept(self.selection, eng, i):
            return None
        return flow_row(eng.row(i))


@dataclass(frozen=True)
class Docs:
    """Each kept stream's flow document (``flows --format json``; ``classic``: with the per-direction block)."""

    selection: Selection
    classic: bool

    def __call__(self, eng: Any, i: int) -> Any:
        from .engine import engine_summary

        if not _kept(self.selection, eng, i):
            return None
        return engine_summary(eng, i).to_dict(classic=self.classic)


def _kept(selection: Selection, eng: Any, i: int) -> bool:
    if not (selection.networks or selection.ports):
        return True
    from .flow import HalfFlow

    life = eng.lifecycle(i)
    client, server = HalfFlow(life.client_addr, life.client_port), HalfFlow(life.server_addr, life.server_port)
    return Selection(networks=selection.networks, ports=selection.ports).matches_endpoints(i, client, server)


def renumbered_row(row: Any, stream: int) -> Any:
    """A FlowRow of a part with its stream number made the capture's."""
    return row._replace(stream=stream)


def renumbered_doc(doc: dict[str, Any], stream: int) -> dict[str, Any]:
    """A flow document of a part with its stream number made the capture's (``stream`` is its first key)."""
    doc["stream"] = stream
    return doc


__all__ = ["PARALLEL_MIN_BYTES", "Docs", "Part", "Rows", "analyse_part", "jobs_for", "merge_parts",
           "partition_of", "run_parts"]  # fmt: skip
