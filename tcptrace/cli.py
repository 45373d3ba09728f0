"""The ``tcptrace`` command line. Thin: parse options, call the library, echo its lines.

Exit codes: 0 success; 2 usage errors, input that cannot be read as a capture and output that cannot be
written (one line on stderr, never a traceback); 130 after Ctrl-C (a live capture, -i or --follow, stops cleanly
and prints its results first; SIGTERM: 143; docs/live.md). Problems inside a readable capture (a truncated last record,
unsupported interfaces) are printed as ``warning:`` lines on stderr and the results for what could be read are
still written. A reader that goes away (``tcptrace packets big.pcap | head``) ends the command quietly, exit 0.

Output files are replaced only by complete ones (tcptrace.output.replacing). File names and messages reach the
terminal with control characters escaped (tcptrace.output.printable), so a hostile file name cannot send
escape sequences. Option bounds and what happens on output errors: docs/limits.md ("Output and options").
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import __version__
from .errors import OutputError, TcptraceError
from .messages import LANGUAGES
from .output import display_path, path_text, printable, replacing
from .selection import Selection, SelectionError, missing_streams_message, parse_host
from .vocab import BASELINE_IGNORE, CHECK_REQUIREMENTS, FORBID_EVENTS

# Start-up time matters for a command line: what only some commands need (the narrator, json, the ladder and
# matplotlib) is imported inside those commands; the names below are for annotations only.
if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

    from .capture import CaptureStats
    from .stats import FlowSummary

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

CAPTURE_HELP = (
    "CAPTURE is a pcap or pcapng file (gzip, xz, bzip2, zstd or lz4-compressed is fine), or - for standard input. "
    "Several files, glob patterns and directories (their capture files, recursively) are read as one capture, "
    "merged by time as mergecap merges them (ring-buffer files in any order; frames numbered over the merge). "
    "--start/--end keep the frames from/until a time: +10s, +1.5m, +250ms (from the first frame), seconds since "
    "1970 or ISO 8601 (UTC unless an offset is given), both ends included."
)

# Option bounds, checked by click when the command line is parsed (docs/limits.md, "Output and options").
DPI_MAX = 1200  # a print-quality raster; beyond it a PNG of the default size is already 12,000 pixels across
WIDTH_MAX_IN = 200.0  # inches: PDF's largest page (14,400 points); SVG and PDF have no other size limit
GRAPH_WIDTH_MIN_IN = 4.0  # narrower, matplotlib cannot fit an RTT graph's labels (tight_layout gives up)
# The narrowest ladder tcptrace.diagram.layout can place (its NARROWEST_IN; not imported here: start-up time).
LADDER_WIDTH_MIN_IN = 4.0


def _capture_arguments(required: bool) -> Callable[[F], F]:
    """CAPTURE... (files, globs, directories, -) and --start/--end, handed to the command as one ``capture``: the
    word itself for one file without a time range, else a tcptrace.sources.CaptureSet (the library reads both);
    None when CAPTURE may be left out (``required=False``: -i IFACE or --follow FILE instead, tcptrace.live)."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def command(*args: Any, capture: tuple[str, ...], start: str | None, end: str | None, **kwargs: Any) -> Any:
            from .sources import source_of

            return f(*args, capture=source_of(capture, start, end) if capture else None, **kwargs)

        from .sources import TIME_HELP

        command = click.option("--end", metavar="TIME", callback=_check_time,
                               help="Only frames at or before TIME (same forms as --start).")(command)  # fmt: skip
        command = click.option("--start", metavar="TIME", callback=_check_time,
                               help=f"Only frames at or after TIME: {TIME_HELP}.")(command)  # fmt: skip
        argument = click.argument("capture", nargs=-1, required=required, callback=_check_stdin)
        return argument(command)  # type: ignore[return-value]

    return decorate


_capture_argument = _capture_arguments(required=True)
# CAPTURE..., or none with -i IFACE or --follow FILE (tcptrace.live)
_live_capture_argument = _capture_arguments(required=False)


def _live_options(follow: bool) -> Callable[[F], F]:
    """-i IFACE and its companions (-f, --write, --duration, --capture-tool), and --follow FILE / --idle where
    ``follow``: the live sources of docs/live.md."""

    def decorate(f: F) -> F:
        if follow:
            f = click.option("--idle", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
                             help="With --follow: stop once the file has not grown for SECONDS (it also stops "
                             "when no process has the file open for writing any more).")(f)  # fmt: skip
            f = click.option("--follow", "follow_path", type=click.Path(exists=True, dir_okay=False), default=None,
                             metavar="FILE", help="Read a capture file another program is still writing (tcpdump "
                             "-w FILE), like tail -f: wait for more at its end; Ctrl-C stops.")(f)  # fmt: skip
        f = click.option("--capture-tool", type=click.Choice(["tcpdump", "dumpcap"]), default=None,
                         help="With -i: the capture program to run (default: tcpdump, else dumpcap).")(f)  # fmt: skip
        f = click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
                         metavar="SECONDS", help="With -i: stop capturing after SECONDS (the exit status is then "
                         "as for a file; Ctrl-C gives 130).")(f)  # fmt: skip
        f = click.option("--write", "write_path", type=click.Path(dir_okay=False, writable=True), default=None,
                         metavar="FILE", help="With -i: also keep the raw capture in FILE (pcap; pcapng with "
                         "dumpcap), to open in Wireshark afterwards.")(f)  # fmt: skip
        f = click.option("-f", "--filter", "bpf", default=None, metavar="BPF",
                         help="With -i: capture filter in tcpdump syntax (default: tcp, or tcp on the --port "
                         "ports).")(f)  # fmt: skip
        return click.option("-i", "--interface", "interface", default=None, metavar="IFACE",
                            help="Capture live on IFACE (runs tcpdump or dumpcap; needs root or capture "
                            "permission) instead of reading CAPTURE; Ctrl-C stops. See docs/live.md.")(f)  # fmt: skip

    return decorate


def _check_sources(capture: str | None, opts: dict[str, Any]) -> None:
    """Exactly one of CAPTURE, -i IFACE, --follow FILE; -i's and --follow's companions only with them."""
    iface, follow_path = opts.get("interface"), opts.get("follow_path")
    given = [x for x in (capture is not None, iface is not None, follow_path is not None) if x]
    if len(given) != 1:
        raise click.UsageError("give one of CAPTURE, -i IFACE" + (" or --follow FILE" if "follow_path" in opts
                                                                   else ""))  # fmt: skip
    if iface is None:
        for name, flag in (("bpf", "-f"), ("write_path", "--write"), ("duration", "--duration"),
                           ("capture_tool", "--capture-tool")):  # fmt: skip
            if opts.get(name) is not None:
                raise click.UsageError(f"{flag} goes with -i IFACE")
    if follow_path is None and opts.get("idle") is not None:
        raise click.UsageError("--idle goes with --follow FILE")


@contextlib.contextmanager
def _live_source(capture: str | None, opts: dict[str, Any], ports: tuple[int, ...]) -> Iterator[Any]:
    """The live input of -i / --follow (a tcptrace.live.LiveInput, Ctrl-C and SIGTERM turned into a clean stop),
    or None when CAPTURE is read as usual. Checks that exactly one source is given."""
    _check_sources(capture, opts)
    iface, follow_path = opts.get("interface"), opts.get("follow_path")
    if capture is not None:
        yield None
        return
    from .capture import PROGRESS
    from .live import LiveInput, capture_filter, start_capture, stop_on_signals

    PROGRESS.set(None)  # no "reading: N MB" line between the live output
    if follow_path is not None:
        with open(follow_path, "rb") as f:
            live = LiveInput(f, name=follow_path, follow=True, path=follow_path, idle_s=opts.get("idle"))
            with stop_on_signals(live):
                yield live
        return
    assert iface is not None
    bpf = capture_filter(opts.get("bpf"), ports)
    with start_capture(iface, bpf, write=opts.get("write_path"), tool=opts.get("capture_tool"),
                       duration_s=opts.get("duration")) as child:  # fmt: skip
        click.echo(f"tcptrace: capturing on {printable(iface)} with {child.tool} (filter: {printable(bpf)}); "
                   "Ctrl-C stops", err=True)  # fmt: skip
        with stop_on_signals(child.stream):
            yield child.stream
        problem = child.problem()
    if problem:
        _warn([problem])


def _after_live(live: Any) -> None:
    """A live source stopped by Ctrl-C or SIGTERM: exit 130 (143), once the output is complete."""
    if live is not None and live.reason in ("interrupt", "terminate"):
        raise SystemExit(EXIT_INTERRUPTED if live.reason == "interrupt" else 143)


def _live_name(live: Any) -> str:
    """What a live source is called where a capture's file name goes (the flows json's "capture" ...)."""
    return str(live.name)


def _check_stdin(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """``-`` reads standard input: say so in one line when there is none (``tcptrace packets - <&-``)."""
    if "-" in value and sys.stdin is None:
        raise InputError("standard input is closed: there is no capture to read from -")
    return value


def _check_time(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .sources import TimeRangeError, parse_time

    if value is not None:
        try:
            parse_time(value)
        except TimeRangeError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
    return value


def _stream_option(f: F) -> F:
    return click.option(
        "-s",
        "--stream",
        "streams",
        type=click.IntRange(min=0),
        multiple=True,
        help="Only this tcp.stream (repeatable).",
    )(f)


def _host_port_options(f: F) -> F:
    """--host ADDR|CIDR and --port N, with one meaning on every command (tcptrace.selection)."""
    f = click.option("--port", "ports", type=click.IntRange(0, 65535), multiple=True,
                     help="Only streams with this port on either side (repeatable).")(f)  # fmt: skip
    return click.option("--host", "hosts", multiple=True, callback=_check_hosts,
                        help="Only streams with an address in ADDR or CIDR prefix (repeatable; e.g. 10.0.0.5, "
                        "10.0.0.0/8, fd00::/8; host names are not resolved).")(f)  # fmt: skip


def _parallel_options(f: F) -> F:
    """--jobs N and --dask ADDRESS: the analysis split by connection over processes or a Dask cluster
    (tcptrace.parallel), the results the same as one pass."""
    f = click.option("--dask", "dask", metavar="ADDRESS", default=None,
                     help="Run the analysis on a Dask cluster (a scheduler address, or `local` for a LocalCluster "
                     "on this machine; needs tcptrace[dask] and the capture on a file system the workers "
                     "share). See docs/scale.md.")(f)  # fmt: skip
    return click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                        help="Analyse in N processes, split by connection; the results are the same as with 1 "
                        "(default: explain uses every core for captures of 16 MB or more; flows and check, whose "
                        "parts each read the whole capture, use 1; always 1 for standard input and a live "
                        "capture).")(f)  # fmt: skip


@contextlib.contextmanager
def _parallel(capture: Any, jobs: int | None, dask: str | None, auto: bool = False) -> Iterator[tuple[int, Any]]:
    """How many parts to analyse in (``auto``: every core by default, where that pays), and the Dask client (closed
    after) when --dask was given."""
    from .parallel import dask_client, jobs_for

    if dask is None:
        yield jobs_for([capture], jobs, auto=auto), None
        return
    if capture == "-":
        raise click.UsageError("--dask reads the capture from a file the workers can open, not standard input")
    with dask_client(dask) as client:
        yield jobs or 0, client


def _output_option(f: F) -> F:
    return click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
                        help="The file --format parquet writes (replaced only once it is complete).")(f)  # fmt: skip


def _check_output(fmt: str, output: str | None) -> None:
    if fmt == "parquet" and not output:
        raise click.UsageError("--format parquet writes a file: give -o FILE.parquet")
    if output and fmt != "parquet":
        raise click.UsageError("-o is for --format parquet; the other formats write to standard output")


def _write_parquet(what: str, rows: Iterable[tuple[Any, ...]], output: str) -> int:
    from .table import write_parquet

    with _writing(output), replacing(output) as f:
        return write_parquet(what, rows, f)


def _color_option(f: F) -> F:
    return click.option("--color/--no-color", default=None,
                        help="Colour the output (default: on a terminal, unless NO_COLOR is set).")(f)  # fmt: skip


def _use_color(color: bool | None) -> bool:
    """--color or --no-color when given; else no colour when NO_COLOR is set to anything (no-color.org), else colour
    only on a terminal."""
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _check_hosts(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    for text in value:
        try:
            parse_host(text)
        except SelectionError as exc:
            raise click.BadParameter(str(exc).removeprefix("--host takes "), ctx, param) from None
    return value


def _nothing_selected(capture: str, missing: tuple[int, ...], streams_total: int, lang: str = "en") -> NoReturn:
    """After reading, for every command: a requested stream the capture lacks is an input error (exit 2); a
    selection that matched nothing says so on stderr and exits 1 (wording from the message catalogue)."""
    t = LANGUAGES[lang]
    if missing:
        raise InputError(missing_streams_message(capture, missing, streams_total, lang))
    click.echo(f"tcptrace: {t['select.none'].format(capture=display_path(capture))}", err=True)
    raise SystemExit(EXIT_NO)


def _engine_missing() -> bool:
    """The C engine should be there but is not: not built, and the pure-Python path was not asked for."""
    if os.environ.get("TCPTRACE_ENGINE", "").lower() == "python":
        return False
    from .engine import engine_module

    try:
        return engine_module() is None
    except ImportError:
        return True


def _version_message() -> str:
    """``tcptrace --version`` also says which engine runs ``flows`` (the C one, or the pure-Python reference)."""
    from .engine import engine_module

    try:
        engine = engine_module()
    except ImportError:
        engine = None
    if engine is not None:
        which = "C engine (tcptrace._engine)"
    elif os.environ.get("TCPTRACE_ENGINE", "").lower() == "python":
        which = "pure-Python engine (TCPTRACE_ENGINE=python)"
    else:
        which = "pure-Python engine (the C engine is not built: no C compiler at install time)"
    return f"%(prog)s, version %(version)s, {which}"


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``, asked of the engine only when given (importing it is start-up time for every command)."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(_version_message() % {"prog": "tcptrace", "version": __version__})
    ctx.exit()


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def accounting(stats: CaptureStats, streams: int) -> str:
    """One line saying what happened to every frame, e.g. ``120 frames: 100 TCP segments in 9 streams; ...``."""
    line = (
        f"{_plural(stats.frames, 'frame')}: {_plural(stats.tcp_segments, 'TCP segment')} "
        f"in {_plural(streams, 'stream')}"
    )
    if stats.skipped:
        parts = [f"{n} {reason.value}" for reason, n in stats.skipped.most_common()]
        line += "; skipped " + ", ".join(parts)
    if stats.truncated_segments:
        line += f"; {stats.truncated_segments} segments cut by the snap length (analysed from the IP lengths)"
    return line


def _echo_lines(lines: Iterable[str], batch: int = 1, *, flush: bool = False) -> None:
    """Write ``lines`` to stdout, each as soon as it comes, or ``batch`` lines a write (``flows``: a million
    lines, two million write calls less; not for output a live capture feeds). ``flush``: each line is flushed
    as it is written (live output reaches a pipe at once)."""
    out = sys.stdout
    if flush:
        for line in lines:
            out.write(line + "\n")
            out.flush()
    elif batch > 1:
        it = iter(lines)
        while chunk := list(itertools.islice(it, batch)):
            chunk.append("")
            out.write("\n".join(chunk))
    else:
        for line in lines:
            out.write(line)
            out.write("\n")
    out.flush()  # before anything click.echo writes next (click may write through a wrapper of its own)


def _warn(warnings: Iterable[str]) -> None:
    """The capture reader's warnings, one ``warning:`` line each on stderr (every command prints them)."""
    for w in warnings:
        click.echo(f"warning: {printable(w)}", err=True)


@contextlib.contextmanager
def _writing(path: str) -> Iterator[None]:
    """Turn an ``OSError`` while writing the output file ``path`` into one line and exit status 2."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {display_path(path)}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _matplotlib_warnings() -> Iterator[None]:
    """Warnings while drawing (a missing CJK font, a layout matplotlib could not fit) as ``warning:`` lines, once
    the drawing is over or has failed, rather than Python's two-line warning format."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            _warn(str(w.message) for w in caught)


def _write_file(path: str, text: str) -> None:
    with _writing(path), replacing(path) as f:
        f.write(text.encode("utf-8"))


# Exit status of every command (README, "Exit status"): 0 done; 1 the answer is "no" (a check failed, a --host/--port
# selection matched no stream); 2 usage error or input/output that cannot be used (not a capture, a stream the
# capture lacks, an output that cannot be written); 130 interrupted (Ctrl-C).
EXIT_OK, EXIT_NO, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class InputError(click.ClickException):
    """A :class:`TcptraceError` on its way out of the CLI: one line on stderr, exit status 2."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"tcptrace: error: {printable(self.format_message())}", err=True)


class _StdoutError(OutputError):
    """Standard output cannot be written (a full disk, a descriptor not open for writing)."""


class _Stdout(io.FileIO):
    """Standard output's descriptor, its write errors turned into :class:`_StdoutError` (one line, exit 2) rather
    than an ``OSError`` traceback. A broken pipe stays a ``BrokenPipeError``: the reader went away, exit 0."""

    def write(self, b: ReadableBuffer, /) -> int:
        try:
            return super().write(b)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutError(f"cannot write to standard output: {exc.strerror or exc}") from exc


def _stdout_to_devnull() -> None:
    """Point standard output's descriptor at /dev/null, so the flush at exit of what is still buffered neither
    fails again nor prints ``Exception ignored``: the standard recipe for EPIPE (Python's signal module docs)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (click's test runner): nothing to silence
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _StdoutError as exc:
            _stdout_to_devnull()
            raise InputError(str(exc)) from exc
        except TcptraceError as exc:
            raise InputError(str(exc)) from exc
        except BrokenPipeError:
            # `tcptrace packets big.pcap | head`: the reader went away; not an error of ours (click would exit 1)
            _stdout_to_devnull()
            raise click.exceptions.Exit(0) from None
        except KeyboardInterrupt:
            # Ctrl-C: the shells' convention, 128 + SIGINT (click would print "Aborted!" and exit 1)
            click.echo("\ntcptrace: interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except click.ClickException as exc:
            # click quotes values with repr, but a message may hold a file name (or more) from the command line
            exc.message = "\n".join(printable(line) for line in exc.message.split("\n"))  # type: ignore[misc]
            raise


class _TerminalProgress:
    """How far a long read has got, on one line of a terminal's stderr (cleared when the read ends)."""

    def __init__(self) -> None:
        self.shown = False
        self.last = 0.0

    def __call__(self, pos: int, size: int | None, done: bool) -> None:
        now = time.monotonic()
        if done:
            self.clear()
            return
        if now - self.last < 0.2:
            return
        self.last = now
        mb = pos / 1e6
        text = (
            f"reading: {pos * 100 // size}% ({mb:,.0f} of {size / 1e6:,.0f} MB)" if size else f"reading: {mb:,.0f} MB"
        )
        sys.stderr.write("\r\x1b[K" + text)
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and which engine runs, and exit.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress line on stderr (shown only on a terminal).")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """Explain TCP from Wireshark captures: streams, relative seq/ack, windows, and what happened."""
    if not quiet and sys.stderr.isatty() and _engine_missing():
        # pip shows nothing of a successful build, so a missing C engine is said here, on a terminal only
        click.echo("note: the C engine is not built (no C compiler at install time): the pure-Python path is 5-8x "
                   "slower; results are the same (-q hides this note)", err=True)  # fmt: skip
    if not quiet and sys.stderr.isatty():
        from .capture import PROGRESS

        progress = _TerminalProgress()
        PROGRESS.set(progress)
        ctx.call_on_close(progress.clear)


@main.command()
@_live_capture_argument
@_stream_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "jsonl", "csv", "parquet"]),
    default="table",
    show_default=True,
    help="table: aligned packet list; jsonl: one JSON object per TCP segment; csv: the same as columns; parquet: "
    "typed columns to the -o file (needs tcptrace[parquet]; docs/scale.md).",
)
@_output_option
@_host_port_options
@_color_option
@_live_options(follow=True)
def packets(
    capture: str | None, streams: tuple[int, ...], fmt: str, output: str | None, hosts: tuple[str, ...],
    ports: tuple[int, ...], color: bool | None, **live_opts: Any,
) -> None:  # fmt: skip
    """List every TCP segment of CAPTURE with Wireshark's numbers.

    stream is tcp.stream, seq/ack are relative (tcp.seq/tcp.ack), win is the scaled window (tcp.window_size).
    Live (-i, --follow, or a pipe on standard input) each packet is printed as it arrives (docs/live.md).
    """
    selection = Selection.of(streams, hosts, ports)
    if sys.stdout.isatty():  # the packets themselves scroll by: no progress line between them
        from .capture import PROGRESS

        PROGRESS.set(None)
    from .engine import PACKET_HORIZON_NS, PacketStream
    from .export import csv_lines, jsonl_lines, table_lines

    _check_output(fmt, output)
    with _live_source(capture, live_opts, ports) as live:
        source: Any = capture
        horizon = PACKET_HORIZON_NS
        flush = live is not None
        if live is not None:
            # live, a packet is printed as it arrives: its states are those known then (docs/live.md)
            source, horizon = live, 0
        elif capture == "-" and sys.stdin is not None:
            from .live import stdin_source

            piped = stdin_source()
            if piped is not None:  # a pipe: polled; if what it carries is being captured now, told as it comes
                source, flush = piped
                horizon = 0 if flush else horizon
        # capture order, each segment's endpoint states settled with hindsight as explain tells them (at most 1 s
        # late; live, at once)
        stream = PacketStream(source, selection, fmt=None if fmt == "parquet" else fmt, horizon_ns=horizon)
        segs = iter(stream)
        if fmt == "parquet":
            from .table import packet_values

            assert output is not None
            n = _write_parquet("packets", (packet_values(seg, stream.locate) for seg in segs), output)
            click.echo(f"wrote {display_path(output)}: {_plural(n, 'packet')}")
        elif fmt == "jsonl":
            _echo_lines(jsonl_lines(segs, stream.locate), flush=flush)
        elif fmt == "csv":
            _echo_lines(csv_lines(segs, stream.locate), flush=flush)
        else:
            use_color = _use_color(color)
            _echo_lines(table_lines(segs, origin_ns=lambda: stream.stats.first_ts_ns, color=use_color), flush=flush)
            click.echo(accounting(stream.stats, stream.streams_total))
    _warn(stream.stats.warnings)
    # live, a selection that matched nothing is what was captured, not a question answered "no"
    if live is None and capture is not None and not selection.everything and not stream.selected:
        total = stream.streams_total
        _nothing_selected(capture, selection.missing(total), total)
    _after_live(live)


packets.help = inspect.cleandoc(packets.help or "") + "\n\n" + CAPTURE_HELP


@main.command()
@_live_capture_argument
@_stream_option
@click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="en", show_default=True, help="Language.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json", "html", "jsonl"]),
    default="text",
    show_default=True,
    help="text for the terminal, markdown for notes, json (docs/explain-json.md), html (a standalone page); live "
    "(-i, --follow): text, or jsonl (one JSON object per step, docs/live.md).",
)
@_color_option
@click.option("-v", "--verbose", is_flag=True, help="One step per packet: do not collapse ordinary data and ACKs.")
@click.option("--absolute", is_flag=True, help="Show raw (absolute) sequence numbers instead of relative ones.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="At most N steps per stream.")
@_host_port_options
@_live_options(follow=True)
@_parallel_options
def explain(
    capture: str | None,
    streams: tuple[int, ...],
    lang: str,
    fmt: str,
    color: bool | None,
    verbose: bool,
    absolute: bool,
    max_steps: int | None,
    hosts: tuple[str, ...],
    ports: tuple[int, ...],
    jobs: int | None,
    dask: str | None,
    **live_opts: Any,
) -> None:
    """Tell the story of each TCP connection in CAPTURE, step by step.

    The three-way handshake (SYN, SYN+ACK, ACK: why the ack is x + 1, the options negotiated, each endpoint's
    state), the data transfer (who sends how much, what each ACK acknowledges, retransmissions, duplicate ACKs,
    zero windows and keep-alives with the frames that prove them) and the teardown (FIN_WAIT_1, CLOSE_WAIT,
    LAST_ACK, TIME_WAIT ..., or the reset and its likely cause). Every step names its frame numbers.

    Live (-i IFACE, or --follow FILE) each step is printed as soon as it is known, each connection's verdict
    when it has ended, and the overview when the capture stops (docs/live.md).
    """
    live_wanted = live_opts.get("interface") is not None or live_opts.get("follow_path") is not None
    if live_wanted and fmt not in ("text", "jsonl"):
        raise click.UsageError("live (-i, --follow), --format is text or jsonl")
    if not live_wanted and fmt == "jsonl":
        raise click.UsageError("--format jsonl is for live narration (-i IFACE or --follow FILE)")
    if live_wanted and max_steps is not None:
        raise click.UsageError("--max-steps needs the whole story: not with -i or --follow")
    _check_sources(capture, live_opts)
    if live_wanted or capture is None:
        _explain_live(capture, streams, lang, fmt, color, verbose, absolute, hosts, ports, live_opts)
        return
    import gc

    from .narrate import ExplainDocument

    # Every packet makes a few objects that live until its stream is told: at the default thresholds the collector
    # walks them some 3,400 times on the benchmark capture (12 % of explain's CPU). Reference counting frees them;
    # the collector is for cycles, and a collection every 20,000 allocations (a full one rarely) finds those.
    thresholds = gc.get_threshold()
    gc.set_threshold(20_000, 50, 1000)
    try:
        use_color = _use_color(color)
        options: dict[str, Any] = {"lang": lang, "fmt": fmt, "color": use_color, "verbose": verbose,
                                   "absolute": absolute, "max_steps": max_steps}  # fmt: skip
        selected = bool(streams or hosts or ports)  # a selection is told in one process (docs/scale.md)
        parallel = _parallel(capture, None if selected else jobs, None if selected else dask, auto=not selected)
        with parallel as (parts, client):
            if parts > 1 or client is not None:
                from .parallel import explain_document

                doc = explain_document([capture], parts, options, dask=client)
            else:
                # each stream is narrated when it ends and its text kept in a temporary file (memory: the open
                # streams)
                doc = ExplainDocument(capture, list(streams) or None, hosts=list(hosts) or None,
                                      ports=list(ports) or None, **options)  # fmt: skip
        with doc:
            if doc.missing or (not len(doc) and (hosts or ports or streams)):
                _nothing_selected(capture, doc.missing, doc.streams_total, lang)
            for piece in doc.pieces():
                click.echo(piece, nl=False, color=use_color if fmt == "text" else None)
    finally:
        gc.set_threshold(*thresholds)
    _warn(doc.stats.get("warnings", []))


explain.help = inspect.cleandoc(explain.help or "") + "\n\n" + CAPTURE_HELP


def _explain_live(capture: str | None, streams: tuple[int, ...], lang: str, fmt: str, color: bool | None,
                  verbose: bool, absolute: bool, hosts: tuple[str, ...], ports: tuple[int, ...],
                  live_opts: dict[str, Any]) -> None:  # fmt: skip
    """``explain -i IFACE`` / ``explain --follow FILE``: tcptrace.live.narrate_live on the live input."""
    from .live import narrate_live

    selection = Selection.of(streams, hosts, ports)
    use_color = _use_color(color) if fmt == "text" else False
    status = _terminal_status if fmt == "text" and sys.stdout.isatty() else None
    with _live_source(capture, live_opts, ports) as live:
        summary = narrate_live(live, lang=lang, fmt=fmt, color=use_color, verbose=verbose, absolute=absolute,
                               selection=selection, status=status)  # fmt: skip
    _warn(summary.stats.warnings)
    _after_live(live)


def _terminal_status(text: str) -> None:
    """The running line of a live narration, rewritten in place on the terminal ("" clears it)."""
    import shutil

    width = shutil.get_terminal_size((80, 24)).columns - 1
    sys.stdout.write("\r\x1b[K" + (printable(text)[:width] if text else ""))
    sys.stdout.flush()


@main.command()
@_live_capture_argument
@_stream_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "parquet"]),
    default="table",
    show_default=True,
    help="table: one row per stream; json: a document with every statistic (the baseline format of "
    "`tcptrace check --baseline`); csv: the table's columns; parquet: the same, typed, and start_time, to the -o "
    "file (needs tcptrace[parquet]).",
)
@_output_option
@click.option(
    "--long",
    "long_",
    is_flag=True,
    help="Instead of the table, each stream's per-direction statistics laid out like classic `tcptrace -l` "
    "(a->b and b->a columns, classic's labels and definitions; the json format's \"tcptrace\" block).",
)
@_host_port_options
@click.option(
    "--zeek",
    "zeek",
    is_flag=True,
    help="One row per Zeek connection instead (Zeek splits a 4-tuple where its timers and SYN reuse rules end "
    "a connection): conn.log's conn_state, history, packets, bytes, missed_bytes, duration and community_id. "
    "See docs/vocabulary-zeek.md.",
)
@click.option(
    "--app",
    "app",
    is_flag=True,
    help="Also say what the application said: an `app` column (http, tls, dns, length-prefixed, lines, unknown; "
    "none without data) and, in json, each stream's messages (HTTP requests and responses, TLS hellos with the "
    "server name, DNS queries ...), from the first 64 KiB each way. Slower: the capture is read by the Python "
    "path, which keeps payloads.",
)
@_live_options(follow=False)
@_parallel_options
def flows(
    capture: str | None,
    streams: tuple[int, ...],
    fmt: str,
    output: str | None,
    long_: bool,
    hosts: tuple[str, ...],
    ports: tuple[int, ...],
    zeek: bool,
    app: bool,
    jobs: int | None,
    dask: str | None,
    **live_opts: Any,
) -> None:
    """One row per TCP stream of CAPTURE: endpoints, packets and bytes each way, how it opened and ended.

    The verdict is given in plain words and in Wireshark's tcp.completeness, Zeek's conn_state and history,
    and classic tcptrace's complete/reset/unidirectional; the json format adds per-direction statistics
    (segment sizes, windows, retransmissions, RTT ...): Wireshark-labelled ones in "c2s"/"s2c", and classic
    tcptrace -l's, with its definitions, in "tcptrace" ("a2b"/"b2a"; --long prints them as tcptrace -l does).
    With --zeek, one row per connection as Zeek's conn.log has it (its `stream` is the tcp.stream of the
    connection's first packet). With -i IFACE the table is written when the capture stops (Ctrl-C, --duration).
    """
    from .engine import flow_lines, flow_rows, selected_summaries, summarize_lazily
    from .export import dumps_indented_chunks, flows_csv_lines, flows_long_lines, flows_table_lines

    selection = Selection.of(streams, hosts, ports)
    if zeek and app:
        raise click.UsageError("--app and --zeek cannot be combined")
    _check_output(fmt, output)
    if fmt == "parquet" and (zeek or app or long_):
        raise click.UsageError("--format parquet writes the flows table's columns: not with --zeek, --app or --long")
    full = fmt == "json" or long_  # the table and CSV read lean rows (stats.flow_rows): no per-direction statistics
    with _live_source(capture, live_opts, ports) as live:
        source: Any = capture if live is None else live
        if live is not None:
            capture = _live_name(live)
            jobs, dask = 1, None  # a live capture is read once
        assert capture is not None
        if zeek:
            _zeek_flows(source, selection, fmt, capture)
            _after_live(live)
            return
        with _parallel(source, None if app else jobs, None if app else dask) as (parts, client):
            if parts > 1 or client is not None:  # split by connection (tcptrace.parallel): the same rows and documents
                rows, docs, stats, total = _flows_parallel(source, selection, full, parts, client)
                apps, chosen = None, None
            else:
                if app:
                    summaries, stats, apps = _summaries_with_app(source)
                else:
                    # each stream's summary is built, written and let go (a million-connection capture holds none)
                    summaries, stats = summarize_lazily(source)
                    apps = None
                total = len(summaries)
                chosen = summaries if selection.everything else selected_summaries(summaries, selection)
                if not chosen and live is None:
                    _nothing_selected(capture, selection.missing(total), total)
                docs = (s.to_dict(classic=full) for s in chosen)
                rows = flow_rows(chosen)
    if apps is not None:
        docs = ({**d, "app": apps(d["stream"])} for d in docs)
    protocol = None if apps is None else (lambda n: str(apps(n)["protocol"]))
    if fmt == "json":
        head = {"capture": path_text(capture), "tcptrace_version": __version__, "stats": stats.as_dict()}
        for chunk in dumps_indented_chunks(head, "flows", docs):
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
    elif fmt == "parquet":
        from .table import flow_values

        assert output is not None
        n = _write_parquet("flows", map(flow_values, rows), output)
        click.echo(f"wrote {display_path(output)}: {_plural(n, 'flow')}")
    elif fmt == "csv":
        # as the table: the C engine writes a single pass's CSV rows itself, community_id too
        csv_lines = flows_csv_lines(rows, app=protocol) if chosen is None else flow_lines(chosen, "csv", app=protocol)
        _echo_lines(csv_lines, batch=1 if chosen is not None else 1024)
    elif long_:
        _echo_lines(flows_long_lines(docs))
        click.echo(accounting(stats, total))
    else:
        # the C engine writes a single pass's table rows itself (engine.flow_lines); parts' rows come renumbered
        table = flows_table_lines(rows, app=protocol) if chosen is None else flow_lines(chosen, "table", app=protocol)
        _echo_lines(table, batch=1 if chosen is not None else 1024)
        click.echo(accounting(stats, total))
    _warn(stats.warnings)
    _after_live(live)


def _flows_parallel(
    capture: Any, selection: Selection, full: bool, parts: int, client: Any
) -> tuple[Iterable[Any], Iterable[dict[str, Any]], CaptureStats, int]:
    """``flows --jobs``/``--dask``: the selected streams' rows (or documents, ``full``) from ``parts`` passes."""
    from .parallel import Docs, Rows, renumbered_doc, renumbered_row, run_parts

    if full:
        items, stats, total = run_parts([capture], parts, Docs(selection, True), dask=client)
    else:
        items, stats, total = run_parts([capture], parts, Rows(selection), dask=client)
    wanted = selection.streams
    chosen = [(n, r) for n, r in items if not wanted or n in wanted]
    if not chosen:
        _nothing_selected(capture, selection.missing(total), total)
    if full:
        return [], (renumbered_doc(d, n) for n, d in chosen), stats, total
    return (renumbered_row(r, n) for n, r in chosen), [], stats, total


def _summaries_with_app(
    capture: Any,
) -> tuple[Sequence[FlowSummary], CaptureStats, Callable[[int], dict[str, Any]]]:
    """``flows --app``: one pass of the Python pipeline (the C engine keeps no payload), each stream's payload
    collected up to the bound (tcptrace.applayer.Collector) and recognised when its row is written."""
    from .applayer import Collector
    from .engine import Pipeline

    run = Pipeline(capture, track_bytes_in_flight=False)
    collector = Collector()
    add = collector.add
    for seg in run:
        add(seg)

    def app_of(stream: int) -> dict[str, Any]:
        flow = run.flow(stream)
        return collector.app(stream, flow.halves[1].port, flow.halves[0].port).to_dict()

    return run.summaries, run.stats, app_of


flows.help = inspect.cleandoc(flows.help or "") + "\n\n" + CAPTURE_HELP


def _zeek_flows(source: Any, selection: Selection, fmt: str, capture: str) -> None:
    """``flows --zeek``: Zeek's connections (tcptrace.zeek), selected by the stream of their first packet
    and by their endpoints."""
    from .export import dumps_indented_chunks, zeek_csv_lines, zeek_table_lines
    from .flow import HalfFlow
    from .zeek import capture_zeek_rows

    rows, stats = capture_zeek_rows(source)
    total = max((r.stream for r in rows), default=-1) + 1
    chosen = [
        r
        for r in rows
        if selection.everything
        or selection.matches_endpoints(r.stream, HalfFlow(r.orig_h, r.orig_p), HalfFlow(r.resp_h, r.resp_p))
    ]
    if not chosen and source is capture:
        _nothing_selected(capture, selection.missing(total), total)
    docs = [r.to_dict() for r in chosen]
    if fmt == "json":
        head = {"capture": path_text(capture), "tcptrace_version": __version__, "stats": stats.as_dict()}
        for chunk in dumps_indented_chunks(head, "connections", iter(docs)):
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
    elif fmt == "csv":
        _echo_lines(zeek_csv_lines(docs))
    else:
        _echo_lines(zeek_table_lines(docs))
        click.echo(f"{len(rows):,} Zeek connection(s) in {total:,} TCP stream(s)")
    _warn(stats.warnings)


@main.command()
@_live_capture_argument
@_stream_option
@click.option("--require", "require", multiple=True, type=click.Choice(list(CHECK_REQUIREMENTS)),
              help="Every selected flow must show this (repeatable).")  # fmt: skip
@click.option("--forbid", "forbid", multiple=True, type=click.Choice(list(FORBID_EVENTS)),
              help="No selected flow may show this (repeatable).")  # fmt: skip
@click.option("--max-retransmissions", type=click.IntRange(min=0), default=None, help="Per flow, at most N.")
@click.option("--max-rtt", "max_rtt", type=click.FloatRange(min=0), default=None, help="Per flow, RTT at most MS.")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Compare with a saved `tcptrace flows --format json` document.")  # fmt: skip
@click.option("--tolerance", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Relative slack for packet and byte counts against the baseline.")  # fmt: skip
@click.option("--ignore", "ignore", multiple=True, type=click.Choice(list(BASELINE_IGNORE)),
              help="Also ignore this when comparing with the baseline (default: time, duration, client_port, "
              "addresses).")  # fmt: skip
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), default=None, help="Write JUnit XML here.")
@_host_port_options
@click.option(
    "--strict",
    is_flag=True,
    help="Also fail when the capture reader warned (a damaged or cut record, an unsupported interface).",
)
@click.option("-v", "--verbose", is_flag=True, help="List passing assertions too.")
@_color_option
@_live_options(follow=False)
@_parallel_options
def check(
    capture: str | None,
    streams: tuple[int, ...],
    require: tuple[str, ...],
    forbid: tuple[str, ...],
    max_retransmissions: int | None,
    max_rtt: float | None,
    baseline: str | None,
    tolerance: float,
    ignore: tuple[str, ...],
    junit: str | None,
    hosts: tuple[str, ...],
    ports: tuple[int, ...],
    strict: bool,
    verbose: bool,
    color: bool | None,
    jobs: int | None,
    dask: str | None,
    **live_opts: Any,
) -> None:
    """Assert that CAPTURE's TCP traffic connects, transfers and closes as it should (for CI).

    Exit status 0 when every assertion holds, 1 when any fails (the report says which flow, which frame and
    why), 2 for usage errors, unreadable input or a JUnit file that cannot be written. The capture reader's
    warnings are printed on stderr; with --strict each is also a failed assertion. With -i IFACE the traffic is
    captured until --duration SECONDS have passed (then the exit status is as above) or Ctrl-C (130).
    """
    from .check import compare_baseline, junit_xml, run_checks

    if not (require or forbid or max_retransmissions is not None or max_rtt is not None or baseline or strict):
        raise click.UsageError("nothing to check: give --require, --forbid, --max-retransmissions, --max-rtt, "
                               "--baseline or --strict")  # fmt: skip
    doc = _load_baseline(baseline) if baseline else None  # a bad baseline fails before the capture is read
    with _live_source(capture, live_opts, ports) as live:
        source: Any = capture if live is None else live
        live_jobs = (jobs, dask) if live is None else (1, None)  # a live capture is read once
        with _parallel(source, *live_jobs) as (parts, client):
            result = run_checks(
                source,
                streams=list(streams) or None,
                require=require,
                forbid=forbid,
                max_retransmissions=max_retransmissions,
                max_rtt_ms=max_rtt,
                hosts=hosts,
                ports=ports,
                strict=strict,
                jobs=parts,
                dask=client,
            )
    _warn(result.warnings)
    if doc is not None:
        findings = compare_baseline(result.flows, doc, tolerance=tolerance, ignore=ignore or BASELINE_IGNORE)
        result.findings.extend(findings)
    if junit:
        _write_file(junit, junit_xml(result))
    use_color = _use_color(color)
    click.echo(result.report(verbose=verbose, color=use_color), color=use_color)
    _after_live(live)
    if not result.ok:
        raise SystemExit(EXIT_NO)


def _load_baseline(path: str) -> dict[str, Any]:
    """A saved ``tcptrace flows --format json`` document, checked for what the comparison reads; anything else
    (not JSON, JSON of another shape, JSON nested deeper than Python's parser recurses) is one line, exit 2."""
    import json

    from .check import validate_baseline

    name = display_path(path)
    what = "is not a `tcptrace flows --format json` document"
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except RecursionError:
        raise InputError(f"{name} {what}: its JSON is nested too deeply to read") from None
    except OSError as exc:
        raise InputError(f"cannot read baseline {name}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # JSON syntax, or not UTF-8
        raise InputError(f"{name} {what}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InputError(f"{name} {what}: its JSON is {_json_kind(doc)}, not an object")
    if "flows" not in doc:
        raise InputError(f"{name} {what}: it has no 'flows'")
    try:
        validate_baseline(doc)
    except ValueError as exc:
        raise InputError(f"{name} {what}: {exc}") from exc
    return doc


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _read_stream(read: Callable[[], tuple[T, list[str]]], *, beside_matplotlib: bool) -> T:
    """What ``read()`` makes of one stream (a ladder, a graph's series), the capture reader's warnings it returns
    printed, and a clean error when the capture has no such stream (the warnings then on the exception's
    statistics). ``beside_matplotlib``: ``read()`` runs in a forked child process while this one imports
    matplotlib (tcptrace.parallel.beside); nothing that reads captures is imported here then, before or after:
    this process only draws."""
    from .selection import NoSuchStream

    try:
        if beside_matplotlib:
            from .output import load_matplotlib
            from .parallel import beside

            drawn, warnings = beside(read, load_matplotlib)
        else:
            drawn, warnings = read()
    except NoSuchStream as exc:
        _warn(getattr(exc.stats, "warnings", []))
        raise
    _warn(warnings)
    return drawn


@main.command()
@_capture_argument
@click.option("-s", "--stream", "stream", type=click.IntRange(min=0), default=0, show_default=True,
              help="The tcp.stream to draw.")  # fmt: skip
@click.option("--kind", type=click.Choice(["tsg", "throughput", "rtt", "window"]), default="tsg", show_default=True,
              help="tsg: time-sequence graph; throughput: throughput and goodput; rtt: per-ACK RTT; window: "
              "advertised window and bytes in flight.")  # fmt: skip
@click.option("--direction", type=click.Choice(["c2s", "s2c"]), default=None,
              help="Which direction's data (default: the one carrying more bytes).")  # fmt: skip
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Output file: .png, .svg or .pdf (replaced only once the new one is complete).")  # fmt: skip
@click.option("--dpi", type=click.IntRange(20, DPI_MAX), default=150, show_default=True, help="PNG resolution.")
@click.option("--width", type=click.FloatRange(GRAPH_WIDTH_MIN_IN, WIDTH_MAX_IN), default=None,
              help="Figure width in inches (default 10).")  # fmt: skip
def graph(capture: str, stream: int, kind: str, direction: str | None, output: str, dpi: int,
          width: float | None) -> None:  # fmt: skip
    """Draw a TCP graph of one stream of CAPTURE: time-sequence (classic tcptrace style), throughput, RTT or
    window, to a PNG, SVG or PDF file."""
    from .graph import check_graph_output, graph_columns, graph_data_from, save_graph_data

    if not output.lower().endswith((".png", ".svg", ".pdf")):
        raise click.BadParameter("the output must end in .png, .svg or .pdf", param_hint="--output")
    check_graph_output(output, kind, dpi, width)  # a PNG too large: said before the capture is read

    def read() -> tuple[Any, list[str]]:
        from .engine import StreamSegments

        source = StreamSegments(capture, stream)
        data = graph_data_from(source, lambda: source.summary, kind, direction=direction,  # type: ignore[arg-type]
                               columns=graph_columns(dpi, width))  # fmt: skip
        return data, source.stats.warnings

    data = _read_stream(read, beside_matplotlib=True)
    with _matplotlib_warnings(), _writing(output):
        save_graph_data(data, output, dpi=dpi, width=width)
    click.echo(f"wrote {display_path(output)}")


@main.command()
@_capture_argument
@click.option("-s", "--stream", "stream", type=click.IntRange(min=0), default=0, show_default=True,
              help="The tcp.stream to draw.")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Image file: .png, .svg or .pdf (needed unless --format is a text format; replaced only once "
              "the new one is complete).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["image", "ascii", "mermaid", "plantuml"]), default=None,
              help="ascii, mermaid or plantuml print a text ladder to stdout; image (the default with -o) "
              "draws with matplotlib.")  # fmt: skip
@click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="en", show_default=True,
              help="Language of the labels, states and notes.")  # fmt: skip
@click.option("--spacing", type=click.Choice(["time", "even"]), default="time", show_default=True,
              help="time: vertical position follows time (long pauses compressed and labelled); even: one row "
              "per item.")  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="One arrow per packet: do not collapse ordinary runs.")
@click.option("--dpi", type=click.IntRange(20, DPI_MAX), default=150, show_default=True, help="PNG resolution.")
@click.option("--width", type=click.FloatRange(LADDER_WIDTH_MIN_IN, WIDTH_MAX_IN), default=None,
              help="Figure width in inches (default: fitted to the labels, 7 to 16).")  # fmt: skip
def diagram(capture: str, stream: int, output: str | None, fmt: str | None, lang: str, spacing: str, verbose: bool,
            dpi: int, width: float | None) -> None:  # fmt: skip
    """Draw one stream of CAPTURE as a ladder (sequence) diagram: client and server lifelines, one arrow per
    segment with its flags and relative seq/ack/len, endpoint states, handshake/data/teardown bands, anomalies
    in colour. To an image (-o OUT.png|svg|pdf) or as ASCII, Mermaid or PlantUML text."""
    fmt = fmt or ("image" if output else "ascii")
    if fmt == "image":
        if not output:
            raise click.UsageError("an image needs -o OUT.png|svg|pdf (or use --format ascii|mermaid|plantuml)")
        if not output.lower().endswith((".png", ".svg", ".pdf")):
            raise click.BadParameter("the output must end in .png, .svg or .pdf", param_hint="--output")

    def read() -> tuple[Any, list[str]]:
        from .ladder import ladder_from, ladder_source

        source = ladder_source(capture, stream, collapse=not verbose)
        ladder = ladder_from(source, lambda: source.summary, lang=lang, collapse=not verbose, spacing=spacing)
        return ladder, source.stats.warnings

    ladder = _read_stream(read, beside_matplotlib=fmt == "image")
    if fmt == "image":
        from .diagram import save_ladder

        assert output is not None
        with _matplotlib_warnings(), _writing(output):
            save_ladder(ladder, output, dpi=dpi, width=width)
        click.echo(f"wrote {display_path(output)}")
    else:
        from .ladder import render_ascii, render_mermaid, render_plantuml

        render = {"ascii": render_ascii, "mermaid": render_mermaid, "plantuml": render_plantuml}[fmt]
        text = render(ladder)
        if output:
            _write_file(output, text)
            click.echo(f"wrote {display_path(output)}")
        else:
            click.echo(text)


@main.command()
@_capture_argument
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="The HTML file to write (replaced only once the new one is complete).")  # fmt: skip
@click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="en", show_default=True,
              help="Language of the page, the narratives and the ladder labels.")  # fmt: skip
@_stream_option
@_host_port_options
def report(capture: str, output: str, lang: str, streams: tuple[int, ...], hosts: tuple[str, ...],
           ports: tuple[int, ...]) -> None:  # fmt: skip
    """Write one self-contained HTML page about CAPTURE, to share or keep: an overview (connections, how they
    ended, which need attention), a sortable flows table, and per connection its verdict, step-by-step story,
    ladder diagram, graphs where data flowed and its packets, every frame number linked to its packet row.

    The page needs no network (no CDN; a small inline script only sorts the table) and escapes everything taken
    from the capture. Big captures are bounded: details for at most 30 flows (those needing attention first),
    500 packet rows per flow (docs/limits.md, "Report")."""
    from .report import build_report, write_report

    with _matplotlib_warnings():
        rep = build_report(capture, lang=lang, streams=streams, hosts=hosts, ports=ports)
    _warn(rep.warnings)
    if rep.missing or (not rep.flows and (hosts or ports or streams)):
        _nothing_selected(capture, rep.missing, rep.streams_total, lang)
    with _writing(output):
        write_report(rep, output)
    click.echo(f"wrote {display_path(output)}: {_plural(rep.flows, 'flow')}, {len(rep.detailed)} in detail")


report.help = inspect.cleandoc(report.help or "") + "\n\n" + CAPTURE_HELP


@main.command()
@_capture_argument
@click.option("-s", "--stream", "stream", type=click.IntRange(min=0), default=0, show_default=True,
              help="The tcp.stream to follow.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "hex", "raw", "json"]), default="text",
              show_default=True,
              help="text: the bytes as text, control and undecodable bytes escaped, each chunk under a line naming "
              "its frames; hex: like `tshark -z follow,tcp,hex`; raw: the bytes exactly, to a file or pipe; json: "
              "chunks (base64) and gaps with their offsets and frames.")  # fmt: skip
@click.option("-d", "--direction", type=click.Choice(["c2s", "s2c", "both"]), default="both", show_default=True,
              help="c2s: what the server read; s2c: what the client read; both: the two interleaved in capture "
              "order.")  # fmt: skip
def follow(capture: str, stream: int, fmt: str, direction: str) -> None:
    """Follow one TCP stream of CAPTURE: the bytes each application read, in order (Wireshark's Follow TCP Stream).

    Retransmitted copies are shown once (the first captured copy wins, as a receiver keeps it; copies whose bytes
    differ are named with their frames), out-of-order data is put in its place, and what the capture lacks is
    marked with its size and frames: bytes never captured (lost before the capture point) and bytes the snap
    length cut. `--format raw -d c2s > body.bin` writes exactly the bytes the server read (gaps left out, and
    said on stderr). See docs/follow.md.
    """
    import json

    from .follow import follow_with_stats, raw_bytes, render_hex, render_text, to_dict
    from .selection import NoSuchStream

    if fmt == "raw" and sys.stdout.isatty():
        raise click.UsageError("--format raw writes bytes as they are, which a terminal would act on: redirect it to "
                               "a file or a pipe, or use --format text or hex")  # fmt: skip
    try:
        fs, stats = follow_with_stats(capture, stream)
    except NoSuchStream as exc:
        _warn(getattr(exc.stats, "warnings", []))
        raise
    if fmt == "json":
        click.echo(json.dumps(to_dict(fs, direction), indent=2, ensure_ascii=False))  # type: ignore[arg-type]
    elif fmt == "raw":
        sys.stdout.flush()
        out = sys.stdout.buffer
        for data in raw_bytes(fs, direction):  # type: ignore[arg-type]
            out.write(data)
        out.flush()
        halves = [fs.c2s, fs.s2c] if direction == "both" else [fs.half(direction)]  # type: ignore[arg-type]
        for h in halves:
            gaps = h.gaps
            for gap in gaps[:3]:
                click.echo(f"warning: left out of the raw bytes: {printable(_describe(gap))}", err=True)
            if len(gaps) > 3:
                click.echo(f"warning: and {len(gaps) - 3:,} more gaps ({h.bytes_in('lost'):,} bytes lost, "
                           f"{h.bytes_in('snap'):,} cut by the snap length in all)", err=True)  # fmt: skip
    else:
        render = render_hex if fmt == "hex" else render_text
        _echo_lines(render(fs, direction))  # type: ignore[arg-type]
    _warn(stats.warnings)


def _describe(item: Any) -> str:
    from .follow import describe

    return describe(item)


follow.help = inspect.cleandoc(follow.help or "") + "\n\n" + CAPTURE_HELP


from .lab.cli import lab  # noqa: E402  (the lab command group lives in its package)

main.add_command(lab)

# Two or three real examples at the end of each command's --help (shipped sample captures, run from the checkout or
# an unpacked sdist; tests/test_cli.py runs every one), and up to two live ones (marked "# live": they capture from
# an interface or wait for a writer, so the test only parses them). `\b` keeps click from re-wrapping them.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "packets": (
        "tcptrace packets sample_pcaps/echo_ipv4.pcap",
        "tcptrace packets sample_pcaps/lossy_bulk.pcap --format jsonl --port 20000",
        "tcptrace packets sample_pcaps/port_reuse.pcap -s 1 --format csv",
        "tcptrace packets -i lo --port 20000                # live (root): each packet as it comes; Ctrl-C stops",
    ),
    "explain": (
        "tcptrace explain sample_pcaps/echo_ipv4.pcap",
        "tcptrace explain sample_pcaps/lossy_bulk.pcap --lang zh",
        "tcptrace explain sample_pcaps/abort_rst.pcap --format markdown -v",
        "tcptrace explain -i lo --port 20000 --write echo.pcap   # live (root): the story as it happens",
        "tcptrace explain --follow cap.pcap --idle 5   # live: while `tcpdump -i lo -w cap.pcap` writes it",
    ),
    "flows": (
        "tcptrace flows sample_pcaps/port_reuse.pcap",
        "tcptrace flows sample_pcaps/http_keepalive.pcap --app --format json",
        "tcptrace flows sample_pcaps/dialogue_threaded.pcap --host 10.99.0.0/24 --format csv",
        "tcptrace flows -i eth0 -f 'tcp port 443' --duration 10   # live (root): the table after 10 s",
    ),
    "check": (
        "tcptrace check sample_pcaps/echo_ipv4.pcap --require handshake --require graceful-close",
        "tcptrace check sample_pcaps/lossy_bulk.pcap --max-retransmissions 100 --junit report.xml",
        "tcptrace check sample_pcaps/abort_rst.pcap --forbid rst      # exits 1: the RST is reported",
        "tcptrace check -i lo --duration 30 --require graceful-close   # live (root): status 1 if a flow fails",
    ),
    "graph": (
        "tcptrace graph sample_pcaps/lossy_bulk.pcap -o tsg.png",
        "tcptrace graph sample_pcaps/lossy_bulk.pcap --kind rtt -o rtt.svg",
    ),
    "follow": (
        "tcptrace follow sample_pcaps/dialogue.pcap",
        "tcptrace follow sample_pcaps/framing.pcap --format hex -d c2s",
        "tcptrace follow sample_pcaps/echo_snaplen.pcap --format json",
    ),
    "diagram": (
        "tcptrace diagram sample_pcaps/echo_ipv4.pcap",
        "tcptrace diagram sample_pcaps/half_close.pcap -o ladder.svg",
        "tcptrace diagram sample_pcaps/echo_ipv4.pcap --lang zh --format mermaid",
    ),
    "lab": (
        "tcptrace lab list",
        "tcptrace lab echo --show-code",
        "sudo tcptrace lab finish_client_closes --lang zh --write finish.pcap   # root: a private network namespace",
    ),
    "report": (
        "tcptrace report sample_pcaps/lossy_bulk.pcap -o report.html",
        "tcptrace report sample_pcaps/dialogue_threaded.pcap --lang zh -o report-zh.html",
        "tcptrace report sample_pcaps/port_reuse.pcap -s 1 -o stream1.html",
    ),
}
for _name, _lines in EXAMPLES.items():
    main.commands[_name].epilog = "Examples:\n\n\b\n" + "\n".join("  " + line for line in _lines)


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status instead of exiting (for tests and embedding)."""
    try:
        main.main(args=argv, prog_name="tcptrace", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def _standard_streams() -> None:
    """Standard output through :class:`_Stdout`, and both standard streams with ``errors="backslashreplace"``:
    text the terminal's encoding lacks (``PYTHONIOENCODING=ascii``, a C locale) is written as ``\\u2192``, never
    a UnicodeEncodeError. (click.echo writes UTF-8 to an ASCII stream of its own accord.)"""
    out = sys.stdout
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if isinstance(out, io.TextIOWrapper) and fd >= 0:
        out.flush()
        raw = _Stdout(fd, "w", closefd=False)
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=out.encoding, errors="backslashreplace",
                                      line_buffering=out.line_buffering, write_through=out.write_through)  # fmt: skip
    elif isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="backslashreplace")
    if isinstance(sys.stderr, io.TextIOWrapper):
        sys.stderr.reconfigure(errors="backslashreplace")


def entry() -> None:
    """Console-script entry point (and ``python -m tcptrace``): :func:`run_cli` with the standard streams made
    safe, and the last flush of standard output inside the error handling, not after it."""
    if sys.stdout is None:  # started with standard output closed (`tcptrace ... >&-`)
        if sys.stderr is not None:
            sys.stderr.write("tcptrace: error: standard output is closed: there is nowhere to write the results\n")
        sys.exit(2)
    _standard_streams()
    try:
        code = run_cli()
        sys.stdout.flush()
    except BrokenPipeError:
        # `tcptrace packets big.pcap | head`: the reader went away; that is not an error of ours.
        _stdout_to_devnull()
        code = 0
    except _StdoutError as exc:
        _stdout_to_devnull()
        click.echo(f"tcptrace: error: {exc}", err=True)
        code = 2
    _leave(code)


def _leave(code: int) -> NoReturn:
    """Exit with ``code``, the command done and standard output flushed: without the interpreter's teardown,
    which frees every module's objects one by one (40-100 ms once matplotlib and NumPy are loaded: a tenth of
    ``diagram -o IMAGE``), unless a thread other than this one still runs (its work would be cut short). Nothing
    of tcptrace's waits for the teardown: its files are closed by their context managers and its child processes
    reaped before the command returns, and the exit handlers then registered (logging's, Pillow's cache,
    pyplot's figures) have nothing left to do."""
    import threading

    with contextlib.suppress(Exception):
        sys.stderr.flush()
    if threading.active_count() == 1:
        os._exit(code)
    sys.exit(code)
