"""Type stub of the optional C accelerator (tcptrace/_engine.c); see tcptrace.engine.summarize."""

from collections.abc import Callable, Sequence
from typing import Any

class DirRecord:
    """One direction's counters (tcptrace.stats.DirStats), by name; fields: tcptrace.vocab.ENGINE_DIR_RECORD."""

    def __getattr__(self, name: str) -> Any: ...

class FlowRecord:
    """A stream's tracking and counters, by name; fields: tcptrace.vocab.ENGINE_FLOW_RECORD."""

    def __getattr__(self, name: str) -> Any: ...

class LifecycleRecord:
    """A stream's handshake, close, resets, states and history; fields: tcptrace.vocab.ENGINE_LIFECYCLE_RECORD."""

    def __getattr__(self, name: str) -> Any: ...

class ClassicRecord:
    """One direction's classic tcptrace tcb (tcptrace.classic.ClassicDir); fields: vocab.ENGINE_CLASSIC_FIELDS."""

    def __getattr__(self, name: str) -> Any: ...

class RowRecord:
    """What the flows table and CSV show of a stream; fields: tcptrace.vocab.ENGINE_ROW_RECORD."""

    def __getattr__(self, name: str) -> Any: ...

class LineChunk:
    """Consecutive packets rendered as lines by the engine (the packets pass): text, packets, max_ts."""

    def __getattr__(self, name: str) -> Any: ...

class PlainRunRecord:
    """A stream's consecutive plain segments, counted (Engine.plain_runs); fields: tcptrace.vocab.ENGINE_RUN_RECORD."""

    def __getattr__(self, name: str) -> Any: ...

class Engine:
    def __init__(
        self,
        rows: bytes,
        classes: bytes,
        initial: bytes,
        detect_hardware_duplicates: bool = True,
        pack_after_ns: int = ...,
    ) -> None: ...
    def add(self, seg: Any) -> None: ...
    def feed_pcap(
        self,
        buf: bytes,
        pos: int,
        frame: int,
        big_endian: bool,
        nano: bool,
        rec_hdr_len: int,
        swapped: bool,
        fcs_len: int,
        link_len: int,
        etype_off: int,
        decode: Callable[..., Any],
        skip: Callable[..., Any],
        until: int = ...,
    ) -> tuple[int, int, int, int, int, int | None]: ...
    def feed_pcapng(
        self,
        buf: bytes,
        pos: int,
        frame: int,
        big_endian: bool,
        interfaces: Sequence[Any | None],
        skip: Callable[..., Any],
        until: int = ...,
    ) -> tuple[int, int, int, int, int, int | None]: ...
    def flow(self, stream: int) -> FlowRecord: ...
    def lifecycle(self, stream: int) -> LifecycleRecord: ...
    def row(self, stream: int) -> RowRecord: ...
    def row_lines(
        self,
        fmt: int,
        streams: Sequence[int],
        texts: Callable[[int], tuple[bytes | int, ...]],
        cache: dict[bytes, tuple[bytes | int, ...]],
        format_addr: Callable[[bytes], str],
    ) -> str: ...
    def memory(self) -> dict[str, int]: ...
    def flow_count(self) -> int: ...
    def trace_end(self) -> int: ...
    def saw_frame(self, ts_ns: int) -> bool: ...
    def time_range(self, lo: int, lo_relative: bool, hi: int, hi_relative: bool, reason: Any) -> None: ...
    def partition(self, k: int, n: int, all: bool = False) -> None: ...
    def take_foreign(self) -> list[int | None]: ...
    def keep(self, predicate: Callable[..., Any]) -> None: ...
    def take_kept(self) -> list[Any]: ...
    def packets(self, fmt: int, flag_texts: tuple[bytes, ...]) -> None: ...
    def quiet(self, stream: int, frame: int) -> None: ...
    def origin(self, ts_ns: int) -> None: ...
    def pause_after(self, ts_ns: int) -> None: ...
    def plain_runs(self, prefixes: tuple[bytes, ...], lead: int, strict: bool) -> None: ...
    def runs_due(self, ts_ns: int) -> None: ...
    def runs_flush(self) -> None: ...

def dumps_indented(
    obj: Any, encode_str: Callable[[str], str], fallback: Callable[[Any, int], str], depth: int = 0
) -> str: ...
