"""The capture reader on fixtures built by code (tests/pcapgen.py): containers, link types, IP, TCP, damage."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import pcapgen as g
import pytest

from tcptrace.capture import open_capture
from tcptrace.errors import CaptureError, NotACapture, TruncatedCapture, UnsupportedLinkType
from tcptrace.model import SkipReason


def read(data: bytes, **kw: bool) -> tuple[list, object]:
    cap = open_capture(io.BytesIO(data), **kw)
    segs = list(cap)
    return segs, cap.stats


ONE = g.ipv4(g.tcp(1234, 80, 7, 9, g.PSH | g.ACK, 512, payload=b"hey"))


@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("big_endian", [False, True])
def test_pcap_magics_and_timestamps(nano: bool, big_endian: bool) -> None:
    ts = 1_700_000_000_123_456_789
    data = g.pcap([g.Rec(g.ether(ONE), ts)], nano=nano, big_endian=big_endian)
    (seg,), stats = read(data)
    assert seg.ts_ns == (ts if nano else ts - 789)
    assert (seg.sport, seg.dport, seg.seq_raw, seg.ack_raw, seg.len, seg.payload) == (1234, 80, 7, 9, 3, b"hey")
    assert stats.format == "pcap"


def _frames_for(linktype: int) -> bytes:
    wrap = {
        1: g.ether,
        113: g.sll,
        276: g.sll2,
        0: g.null,
        108: lambda p: g.null(p, big_endian=True),
        101: lambda p: p,
        12: lambda p: p,
        14: lambda p: p,
        228: lambda p: p,
    }[linktype]
    return wrap(ONE)


@pytest.mark.parametrize("linktype", [1, 113, 276, 0, 108, 101, 12, 14, 228])
def test_link_types_ipv4(linktype: int) -> None:
    (seg,), _ = read(g.pcap(g.records([_frames_for(linktype)]), linktype=linktype))
    assert seg.src == bytes([10, 0, 0, 1])
    assert seg.payload == b"hey"


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        (229, g.ipv6(g.tcp(payload=b"v6"))),
        (101, g.ipv6(g.tcp(payload=b"v6"))),
        (1, g.ether(g.ipv6(g.tcp(payload=b"v6")), 0x86DD)),
        (0, g.null(g.ipv6(g.tcp(payload=b"v6")), family=30)),  # macOS AF_INET6
        (0, g.null(g.ipv6(g.tcp(payload=b"v6")), family=24, big_endian=True)),  # OpenBSD, big-endian host
        (113, g.sll(g.ipv6(g.tcp(payload=b"v6")), 0x86DD)),
    ],
)
def test_link_types_ipv6(linktype: int, frame: bytes) -> None:
    (seg,), _ = read(g.pcap(g.records([frame]), linktype=linktype))
    assert seg.ip_version == 6
    assert seg.len == 2
    assert seg.ip_id == -1


def test_vlan_and_qinq() -> None:
    frames = [g.ether(ONE, vlans=(10,)), g.ether(ONE, vlans=(100, 10), tpid=0x88A8)]
    segs, _ = read(g.pcap(g.records(frames)))
    assert len(segs) == 2


def test_ethernet_padding_is_not_payload() -> None:
    bare = g.ipv4(g.tcp(flags=g.ACK))  # 40 bytes: Ethernet pads the frame to 60
    (seg,), _ = read(g.pcap(g.records([g.ether(bare) + b"\x00" * 6])))
    assert seg.len == 0
    assert seg.payload == b""


def test_unknown_link_type_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedLinkType, match="link type 147"):
        open_capture(io.BytesIO(g.pcap(g.records([ONE]), linktype=147)))


def test_pcapng_every_interface_has_its_own_link_type_and_resolution() -> None:
    ts = 1_700_000_000_000_000_000
    recs = [
        g.Rec(g.ether(ONE), ts + 1_000, iface=0),  # Ethernet, default microseconds
        g.Rec(g.sll(ONE), ts + 2_000_000_123, iface=1),  # Linux cooked, nanoseconds
        g.Rec(ONE, ts + 3_000_000_000, iface=2),  # raw IP, 2^-10 s resolution
    ]
    data = g.pcapng(recs, [(1, None), (113, 9), (101, 0x80 | 10)])
    segs, stats = read(data)
    assert [s.interface for s in segs] == [0, 1, 2]
    assert segs[0].ts_ns == ts + 1_000
    assert segs[1].ts_ns == ts + 2_000_000_123
    assert abs(segs[2].ts_ns - (ts + 3_000_000_000)) < 1_000_000  # 1/1024 s units
    assert stats.linktypes == {0: 1, 1: 113, 2: 101}
    assert stats.format == "pcapng"


def test_pcapng_big_endian_and_simple_packet_blocks() -> None:
    segs, _ = read(g.pcapng(g.records([g.ether(ONE)] * 2), [(1, None)], big_endian=True))
    assert len(segs) == 2
    segs, _ = read(g.pcapng(g.records([g.ether(ONE)] * 3), [(1, None)], simple=True))
    assert [s.frame for s in segs] == [1, 2, 3]


def test_pcapng_unsupported_interface_is_skipped_with_a_warning() -> None:
    recs = [g.Rec(g.ether(ONE), 10**18, iface=0), g.Rec(b"\x00" * 40, 10**18 + 5, iface=1)]
    segs, stats = read(g.pcapng(recs, [(1, None), (147, None)]))
    assert len(segs) == 1
    assert stats.skipped[SkipReason.UNSUPPORTED_LINK] == 1
    assert any("147" in w for w in stats.warnings)


def _compress(codec: str, data: bytes) -> bytes:
    """``data`` compressed as the command-line tools write it (built by code; zstd and lz4 need their extras)."""
    import bz2
    import lzma

    if codec == "gzip":
        return g.gz(data)
    if codec == "xz":
        return lzma.compress(data)
    if codec == "bzip2":
        return bz2.compress(data)
    if codec == "zstd":
        return pytest.importorskip("backports.zstd", reason="the zstd extra is not installed").compress(data)  # type: ignore[no-any-return]
    return pytest.importorskip("lz4.frame", reason="the lz4 extra is not installed").compress(data)  # type: ignore[no-any-return]


CODEC_NAMES = ["gzip", "xz", "bzip2", "zstd", "lz4"]


@pytest.mark.parametrize("codec", CODEC_NAMES)
@pytest.mark.parametrize("container", ["pcap", "pcapng"])
def test_compression_detected_by_magic(container: str, codec: str) -> None:
    raw = g.pcap(g.records([g.ether(ONE)])) if container == "pcap" else g.pcapng(g.records([g.ether(ONE)]), [(1, None)])
    segs, stats = read(_compress(codec, raw))
    assert len(segs) == 1
    assert stats.compressed
    assert not stats.warnings


@pytest.mark.parametrize("codec", CODEC_NAMES)
def test_concatenated_members_read_as_one(codec: str) -> None:
    """gzip members, xz and bzip2 streams, zstd and lz4 frames one after another (as `cat a.gz b.gz` makes)."""
    data = g.pcap(g.records([g.ether(ONE)] * 30))
    segs, stats = read(_compress(codec, data[:700]) + _compress(codec, data[700:]))
    assert len(segs) == 30
    assert not stats.warnings


@pytest.mark.parametrize("codec", CODEC_NAMES)
def test_compressed_pipe_read_in_small_pieces(codec: str) -> None:
    cap = open_capture(Pipe(_compress(codec, g.pcap(g.records([g.ether(ONE)] * 5)))))  # type: ignore[arg-type]
    assert len(list(cap)) == 5


@pytest.mark.parametrize("codec", CODEC_NAMES)
def test_garbage_after_compressed_data_warns_and_keeps_the_packets(codec: str) -> None:
    segs, stats = read(_compress(codec, g.pcap(g.records([g.ether(ONE)] * 5))) + b"\x00garbage tail\xff" * 3)
    assert len(segs) == 5
    assert [w.split(":")[0] for w in stats.warnings] == [codec]
    assert "damaged compressed data" in stats.warnings[0]


def test_missing_optional_decompressor_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zstd capture without the zstd extra: a CaptureError naming the extra, not an ImportError."""
    import builtins

    real_import = builtins.__import__

    def no_zstd(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in ("compression", "backports", "backports.zstd", "compression.zstd"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zstd)
    with pytest.raises(CaptureError, match=r"zstd-compressed; reading it needs the optional 'zstd' extra"):
        open_capture(io.BytesIO(b"\x28\xb5\x2f\xfd" + bytes(20)))


class Pipe(io.RawIOBase):
    """A non-seekable stream that hands out at most 7 bytes per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        n = 7 if n < 0 else min(n, 7)
        out, self._data = self._data[:n], self._data[n:]
        return out


@pytest.mark.parametrize("compress", [False, True])
def test_non_seekable_pipe(compress: bool) -> None:
    raw = g.pcap(g.records([g.ether(ONE)] * 5))
    cap = open_capture(Pipe(g.gz(raw) if compress else raw))  # type: ignore[arg-type]
    assert len(list(cap)) == 5


def test_truncated_last_record_warns_and_keeps_the_rest() -> None:
    data = g.pcap(g.records([g.ether(ONE)] * 4))
    segs, stats = read(data[:-10])
    assert len(segs) == 3
    assert stats.frames == 3
    assert any("cut in the middle of frame 4" in w for w in stats.warnings)


def test_truncated_record_header_warns() -> None:
    data = g.pcap(g.records([g.ether(ONE)] * 2))
    segs, stats = read(data + b"\x01\x02\x03")
    assert len(segs) == 2
    assert any("record header" in w for w in stats.warnings)


def test_truncated_gzip_warns() -> None:
    data = g.gz(g.pcap(g.records([g.ether(ONE)] * 200)))
    segs, stats = read(data[: len(data) // 2])
    assert 0 < len(segs) < 200
    assert stats.warnings


@pytest.mark.parametrize("data", [b"", b"\xd4\xc3"])
def test_empty_or_cut_header(data: bytes) -> None:
    with pytest.raises(TruncatedCapture):
        list(open_capture(io.BytesIO(data)))


def test_not_a_capture() -> None:
    with pytest.raises(NotACapture, match="not a pcap or pcapng"):
        open_capture(io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"))


def test_frame_numbers_count_every_frame_and_every_skip_has_a_reason() -> None:
    arp = g.ether(b"\x00" * 28, 0x0806)
    udp = g.ether(g.ipv4(b"\x00" * 8, proto=17))
    frag = g.ether(g.ipv4(b"\x00" * 16, frag=0x0010))  # offset 128 bytes: a later fragment
    cut = g.ether(g.ipv4(g.tcp())[:30])  # snap length left 10 bytes of TCP
    bad_ip = bytearray(g.ether(ONE))
    bad_ip[14] = 0x44  # IHL 4: an IPv4 header shorter than 20 bytes
    bogus = g.ether(g.ipv4(g.tcp(data_offset=3)))  # a TCP header Wireshark dissects in part: still a segment
    frames = [arp, g.ether(ONE), udp, frag, cut, bytes(bad_ip), g.ether(ONE), bogus]
    recs = g.records(frames)
    recs[4].orig_len = 54
    segs, stats = read(g.pcap(recs), keep_skipped=True)
    assert [s.frame for s in segs] == [2, 7, 8]
    assert [s.header_error for s in segs] == [0, 0, 1]
    assert stats.frames == 8
    assert stats.skipped_frames == [
        (1, SkipReason.NOT_IP),
        (3, SkipReason.NOT_TCP),
        (4, SkipReason.FRAGMENT),
        (5, SkipReason.TRUNCATED),
        (6, SkipReason.MALFORMED),
    ]


def test_first_fragment_with_full_tcp_header_is_used() -> None:
    first = g.ether(g.ipv4(g.tcp(payload=b"x" * 16), frag=0x2000))  # MF set, offset 0
    (seg,), _ = read(g.pcap(g.records([first])))
    assert seg.len == 16


def test_ipv4_options_and_ipv6_extension_headers() -> None:
    v4 = g.ether(g.ipv4(g.tcp(payload=b"abc"), options=b"\x94\x04\x00\x00"))  # router alert
    hop_by_hop = bytes([6, 0]) + b"\x01\x04\x00\x00\x00\x00"  # next header TCP, 8 bytes
    v6 = g.ether(g.ipv6(g.tcp(payload=b"abcd"), nxt=0, ext=hop_by_hop), 0x86DD)
    fragment_hdr = bytes([6, 0]) + struct.pack("!HI", 1, 77)  # offset 0, M=1
    v6f = g.ether(g.ipv6(g.tcp(payload=b"ab"), nxt=44, ext=fragment_hdr), 0x86DD)
    later = bytes([6, 0]) + struct.pack("!HI", 8 << 3, 77)
    v6later = g.ether(g.ipv6(b"\x00" * 16, nxt=44, ext=later), 0x86DD)
    segs, stats = read(g.pcap(g.records([v4, v6, v6f, v6later])))
    assert [s.len for s in segs] == [3, 4, 2]
    assert stats.skipped[SkipReason.FRAGMENT] == 1


def test_all_nine_flags_and_reserved_bits() -> None:
    (seg,), _ = read(g.pcap(g.records([g.ether(g.ipv4(g.tcp(flags=0xFFF)))])))
    assert seg.flag_names == ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS")
    assert seg.flags == 0xFFF  # reserved bits kept, as Wireshark's tcp.flags


def test_options_decoded() -> None:
    opts = g.opt_mss(1460) + g.opt_sack_perm() + g.opt_ts(11, 22) + b"\x01" + g.opt_ws(7)
    (seg,), _ = read(g.pcap(g.records([g.ether(g.ipv4(g.tcp(flags=g.SYN, options=opts)))])))
    o = seg.options
    assert (o.mss, o.wscale, o.sack_permitted, o.tsval, o.tsecr) == (1460, 7, True, 11, 22)
    assert not o.malformed
    sack = g.opt_sack((100, 200), (300, 400))
    (seg,), _ = read(g.pcap(g.records([g.ether(g.ipv4(g.tcp(options=sack)))])))
    assert seg.options.sack == ((100, 200), (300, 400))


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x02\x00\x05\xb4",  # length 0
        b"\x02\x01\x05\xb4",  # length 1
        b"\x02\x28",  # length runs past the option area
        b"\x08\x04\x00\x00",  # timestamp with the wrong length
        b"\x03\x02\x01\x01",  # window scale without its shift byte
        b"\x05\x03\x00\x00",  # SACK whose length is not 2 + 8n
        b"\xfe",  # unknown kind, length byte missing
    ],
)
def test_garbage_options_never_crash(garbage: bytes) -> None:
    (seg,), _ = read(g.pcap(g.records([g.ether(g.ipv4(g.tcp(flags=g.SYN, options=garbage)))])))
    o = seg.options
    assert o.malformed
    assert o.wscale is None or o.wscale == 1


def test_snap_length_inside_tcp_options_still_analysed() -> None:
    opts = g.opt_mss(1460) + g.opt_sack_perm() + g.opt_ts(1, 0) + b"\x01" + g.opt_ws(7)
    frame = g.ether(g.ipv4(g.tcp(flags=g.SYN, options=opts)))
    rec = g.Rec(frame[: 14 + 20 + 24], 10**18, orig_len=len(frame))  # cut 4 bytes into the options
    (seg,), stats = read(g.pcap([rec], snaplen=58))
    assert seg.header_truncated
    assert seg.options.mss == 1460
    assert seg.options.truncated
    assert seg.options.wscale is None
    assert stats.truncated_segments == 1


def test_snap_length_payload_length_from_ip() -> None:
    frame = g.ether(g.ipv4(g.tcp(payload=b"z" * 1000)))
    rec = g.Rec(frame[:96], 10**18, orig_len=len(frame))
    (seg,), _ = read(g.pcap([rec], snaplen=96))
    assert seg.len == 1000
    assert len(seg.payload) == 96 - 54


def test_damaged_record_length_stops_with_warning() -> None:
    data = bytearray(g.pcap(g.records([g.ether(ONE)] * 3)))
    rec2 = 24 + 16 + len(g.ether(ONE))
    struct.pack_into("<I", data, rec2 + 8, 0x7FFFFFFF)
    segs, stats = read(bytes(data))
    assert len(segs) == 1
    assert "damaged" in stats.warnings[0]


def test_old_pcap_swapped_lengths() -> None:
    rec = g.Rec(g.ether(ONE), 10**18, orig_len=len(g.ether(ONE)))
    data = bytearray(g.pcap([rec], version=(2, 2)))
    struct.pack_into("<II", data, 24 + 8, 1514, len(g.ether(ONE)))  # caplen/len written swapped
    (seg,), _ = read(bytes(data))
    assert seg.len == 3


def test_tunnels_gre_vxlan() -> None:
    inner = g.ipv4(g.tcp(payload=b"in"), "192.168.1.1", "192.168.1.2")
    gre = g.ether(g.ipv4(b"\x00\x00\x08\x00" + inner, proto=47))
    vxlan = g.ether(
        g.ipv4(struct.pack("!HHHH", 5555, 4789, 0, 0) + b"\x08\x00\x00\x00\x00\x00\x01\x00" + g.ether(inner), proto=17)
    )
    segs, _ = read(g.pcap(g.records([gre, vxlan])))
    assert [s.src for s in segs] == [bytes([192, 168, 1, 1])] * 2


@pytest.mark.parametrize("compress", [False, True])
def test_a_slow_pipe_is_read_as_its_packets_arrive(compress: bool) -> None:
    """`tcpdump -U -w - | tcptrace packets -`: each packet is analysed when it arrives, not when 1 MiB has (the
    writer holds back the rest of the file until the reader has seen the first segment, or 5 s)."""
    import os
    import threading
    import time
    import zlib

    from conftest import SAMPLES

    data = (SAMPLES / "echo_ipv4.pcap").read_bytes()
    first_part = data[: 24 + 2 * (16 + 42) + 16 + 74]  # the file header, the two ARP frames and the SYN
    seen = threading.Event()
    r, w = os.pipe()

    def writer() -> None:
        with os.fdopen(w, "wb", buffering=0) as out:
            if compress:
                z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                out.write(z.compress(first_part) + z.flush(zlib.Z_SYNC_FLUSH))
                seen.wait(5)
                out.write(z.compress(data[len(first_part) :]) + z.flush())
            else:
                out.write(first_part)
                seen.wait(5)
                out.write(data[len(first_part) :])

    t = threading.Thread(target=writer)
    start = time.monotonic()
    t.start()
    with os.fdopen(r, "rb") as pipe:
        cap = open_capture(pipe)
        frames = []
        for seg in cap:
            frames.append(seg.frame)
            if not seen.is_set():
                waited = time.monotonic() - start
                seen.set()
    t.join()
    assert waited < 2, f"the first segment took {waited:.1f} s: the reader waited for a full buffer"
    assert frames == list(range(3, 13))


SAMPLES_DIR = Path(__file__).resolve().parent.parent / "sample_pcaps"


def test_progress_is_reported_to_a_caller_that_asks_and_never_printed() -> None:
    """The CLI shows a progress line on a terminal through capture.PROGRESS; the library only calls the hook."""
    from tcptrace.capture import PROGRESS, PROGRESS_STEP
    from tcptrace.engine import summarize

    path = SAMPLES_DIR / "lossy_bulk.pcap"
    calls: list[tuple[int, int | None, bool]] = []
    token = PROGRESS.set(lambda pos, size, done: calls.append((pos, size, done)))
    try:
        summarize(path)
    finally:
        PROGRESS.reset(token)
    size = path.stat().st_size
    assert calls[-1] == (size, size, True)
    assert all(s == size for _, s, _ in calls)
    assert [p for p, _, _ in calls] == sorted(p for p, _, _ in calls)
    assert len(calls) <= size // PROGRESS_STEP + 3
    calls.clear()
    summarize(path)  # no hook set: nothing reported
    assert calls == []


def test_cli_shows_progress_only_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    big = tmp_path / "big.pcap"
    data = (SAMPLES_DIR / "lossy_bulk.pcap").read_bytes()
    body = data[24:]
    big.write_bytes(data[:24] + body * 120)  # ~10 MB, the same records over and over: enough for progress lines
    cmd = [sys.executable, "-m", "tcptrace", "flows", str(big)]
    plain = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert "reading:" not in plain.stderr
    main_fd, child_fd = pty.openpty()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=child_fd, check=False, cwd=tmp_path)
    os.close(child_fd)
    out = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main_fd)
    assert proc.returncode == 0
    assert b"reading: " in out
    assert b"% (" in out
    assert out.endswith(b"\r\x1b[K")  # the line is cleared at the end
    main_fd, child_fd = pty.openpty()
    quiet = subprocess.run([*cmd[:3], "-q", *cmd[3:]], stdout=subprocess.DEVNULL, stderr=child_fd, check=False)
    os.close(child_fd)
    os.set_blocking(main_fd, False)
    try:
        said = os.read(main_fd, 65536)
    except OSError:
        said = b""
    os.close(main_fd)
    assert quiet.returncode == 0
    assert b"reading:" not in said
