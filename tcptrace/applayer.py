"""What the application said: HTTP/1.x, TLS records, DNS over TCP and simple framings, found in a stream's
reassembled bytes with dpkt's protocol parsers. Off the hot path: only ``explain`` and ``flows --app`` ask.

Theory of operation. :func:`payloads` takes one stream's segments, reassembled by tcptrace.follow (the bytes
each receiving application read, in order, first captured copy wins, gaps named), and keeps of each direction a
:class:`Payload`: the contiguous bytes from the start up to the first gap, each byte range labelled with the
frame that carried it, the gaps; at most :data:`MAX_BYTES` bytes per direction (docs/limits.md).
:func:`recognise` then tries, in order, TLS (records ``16 03 0x``; dpkt.ssl's ClientHello/ServerHello with the
SNI and supported_versions extensions), HTTP/1.x (dpkt.http.Request/Response: method, path, status,
Content-Length or chunked, several messages on one connection), DNS over TCP (port 53 or a 2-byte length prefix
whose every message dpkt.dns parses), a 4- or 2-byte big-endian length prefix whose messages exactly tile each
direction, and newline-delimited text. Each message is an :class:`AppMessage` (protocol, direction, kind, summary
fields, byte range, the frames and the bytes each carried): classify here, render in tcptrace.narrate and
tcptrace.export. The parsers read only the contiguous prefix of a direction (up to its first gap); a message cut
by the gap or the bound is marked incomplete. dpkt is imported here and nowhere else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .model import FIN, RST, SYN

MAX_BYTES = 65536  # bytes examined per direction of a stream (docs/limits.md, "Per stream")
MAX_MESSAGES = 200  # messages kept per stream; later ones are counted in AppLayer.more
_FRAME_MAX = 16 * 1024 * 1024  # a length prefix above this is not taken for a framing
_ENDS = SYN | FIN | RST

PROTOCOLS = ("http", "tls", "dns", "length-prefixed", "lines", "unknown", "none")

_HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")
# what a side's first payload starts with when it may be HTTP (may_be_http_tls_or_dns; the C engine's plain runs)
APP_PREFIXES = (b"HTTP/", *_HTTP_METHODS)
_TLS_VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
_TLS_RECORD_KINDS = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
_TLS_HANDSHAKE_KINDS = {1: "client_hello", 2: "server_hello"}
_EXT_SNI, _EXT_SUPPORTED_VERSIONS, _EXT_ALPN = 0, 43, 16
_DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
              41: "OPT", 65: "HTTPS", 252: "AXFR", 255: "ANY"}  # fmt: skip
_DNS_RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


# --- the byte stream ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    """``length`` bytes at ``offset`` of a direction's stream, first carried by ``frame``."""

    offset: int
    length: int
    frame: int


@dataclass(frozen=True)
class Payload:
    """One direction's bytes as its receiver read them: ``data`` is the contiguous prefix (up to the first gap or
    :data:`MAX_BYTES`); ``chunks`` say which frame carried which range (of all bytes placed, in offset order);
    ``gaps`` are (offset, length) holes before the highest byte seen; ``capped``: bytes past the bound were not
    examined. Offsets are tcptrace.follow's: 0 is the byte after the SYN (else the lowest sequence number seen)."""

    data: bytes = b""
    chunks: tuple[Chunk, ...] = ()
    gaps: tuple[tuple[int, int], ...] = ()
    capped: bool = False

    @classmethod
    def of(cls, data: bytes, frame: int = 1) -> Payload:
        """A direction whose bytes all came in one segment (for tests and callers with bytes in hand)."""
        return cls(data, (Chunk(0, len(data), frame),) if data else ())

    def carried(self, start: int, end: int) -> list[tuple[int, int]]:
        """(frame, bytes) of each segment that carried part of ``[start, end)``, in stream order."""
        out: dict[int, int] = {}
        for c in self.chunks:
            lo, hi = max(start, c.offset), min(end, c.offset + c.length)
            if lo < hi:
                out[c.frame] = out.get(c.frame, 0) + hi - lo
        return list(out.items())


def _payload(half: Any, limit: int) -> Payload:
    """One direction of a :class:`tcptrace.follow.FollowedStream` as this module's bounded :class:`Payload`."""
    from .follow import Gap

    parts: list[bytes] = []
    chunks: list[Chunk] = []
    gaps: list[tuple[int, int]] = []
    for item in half.items:
        if item.offset >= limit:
            break
        if isinstance(item, Gap):
            gaps.append((item.offset, min(item.length, limit - item.offset)))
            continue
        n = min(item.length, limit - item.offset)
        chunks.append(Chunk(item.offset, n, item.frame))
        if not gaps:
            parts.append(item.data[:n])
    return Payload(b"".join(parts), tuple(chunks), tuple(gaps), half.length > limit)


def payloads(segments: Iterable[Any], limit: int = MAX_BYTES) -> tuple[Payload, Payload, bool]:
    """Both directions of one stream's segments (tcptrace.model.Segment, capture order), reassembled by
    :func:`tcptrace.follow.reassemble` (first captured copy wins, gaps named), each cut at ``limit`` bytes; and
    whether any segment carried data (captured or not)."""
    from .follow import reassemble

    kept = _Kept(limit)
    for seg in segments:
        kept.add(seg)
    followed = reassemble(kept.segs)
    return _payload(followed.c2s, limit), _payload(followed.s2c, limit), kept.sent


class _Kept:
    """What one stream's reassembly needs, bounded: every SYN, FIN and RST (where each direction starts and
    ends), and a direction's data segments while it has kept less than twice ``limit`` bytes of payload (room for
    retransmitted and out-of-order copies) and until its first segment the snap length cut (the parsers stop at
    the first gap anyway, and a capture cut on every segment would give follow a gap per segment)."""

    __slots__ = ("cut", "kept", "limit", "segs", "sent")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.segs: list[Any] = []
        self.kept = [0, 0]
        self.cut = [False, False]
        self.sent = False

    def add(self, seg: Any) -> None:
        if seg.len and not seg.header_error:
            self.sent = True
            d = int(seg.direction)
            if self.kept[d] < 2 * self.limit and not self.cut[d]:
                self.kept[d] += len(seg.payload)
                self.cut[d] = len(seg.payload) < seg.len
                self.segs.append(seg)
                return
        if seg.flags & _ENDS:
            self.segs.append(seg)


# --- messages -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppMessage:
    """One application message: ``protocol`` (http, tls, dns, length-prefixed, lines), ``direction`` (0 client
    to server), ``kind`` (request, response, client_hello, server_hello, handshake, change_cipher_spec, alert,
    application_data, query, answer, message, line), ``fields`` (what it says: method, path, status, sni ...),
    ``[start, end)`` in the direction's stream, ``carried`` (frame, bytes) per segment, ``complete``: the whole
    message was captured."""

    protocol: str
    direction: int
    kind: str
    fields: dict[str, Any]
    start: int
    end: int
    carried: tuple[tuple[int, int], ...]
    complete: bool = True

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def frames(self) -> tuple[int, ...]:
        return tuple(f for f, _ in self.carried)

    @property
    def segments(self) -> int:
        return len(self.carried)

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "direction": "c2s" if self.direction == 0 else "s2c",
            "kind": self.kind,
            **self.fields,
            "bytes": self.size,
            "offset": self.start,
            "frames": list(self.frames),
            "segment_bytes": [n for _, n in self.carried],
            "complete": self.complete,
        }


@dataclass(frozen=True)
class AppLayer:
    """What the application said on one stream: the protocol recognised and its messages in time order (by
    their first frame), at most :data:`MAX_MESSAGES` (``more`` counts the rest)."""

    protocol: str
    messages: tuple[AppMessage, ...] = ()
    more: int = 0
    gaps: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] = ((), ())
    capped: tuple[bool, bool] = (False, False)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the framing's prefix size

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            **self.details,
            "messages": [m.to_dict() for m in self.messages],
            "more_messages": self.more,
            "gaps": {"c2s": [list(g) for g in self.gaps[0]], "s2c": [list(g) for g in self.gaps[1]]},
            "bytes_examined_max": MAX_BYTES,
            "capped": {"c2s": self.capped[0], "s2c": self.capped[1]},
        }


_Found = tuple[str, dict[str, Any], int, int, bool]  # kind, fields, start, end, complete


def _http_requests(data: bytes) -> list[_Found] | None:
    import dpkt

    if not data.startswith(_HTTP_METHODS):
        return None
    out: list[_Found] = []
    i = 0
    while i < len(data):
        try:
            req = dpkt.http.Request(data[i:])
        except dpkt.NeedData:
            out.append(("request", _start_line_fields(data[i:], request=True), i, len(data), False))
            break
        # a message dpkt cannot read: a bad length or chunk (UnpackError, ValueError, IndexError), or a repeated
        # body header, whose values dpkt gathers into a list that int() and str.lower() refuse (TypeError,
        # AttributeError; benchmarks/README.md, "Fuzzing")
        except (dpkt.UnpackError, ValueError, IndexError, TypeError, AttributeError):
            break
        end = len(data) - len(req.data)
        out.append(("request", {"method": req.method, "path": req.uri, "version": req.version,
                                **_http_body_fields(req.headers, len(req.body))}, i, end, True))  # fmt: skip
        if end <= i:
            break
        i = end
    return out or None


def _http_responses(data: bytes, methods: Sequence[str]) -> list[_Found] | None:
    import dpkt

    if not data.startswith(b"HTTP/"):
        return None
    out: list[_Found] = []
    i = 0
    while i < len(data):
        head = methods[len(out)] == "HEAD" if len(out) < len(methods) else False
        try:
            if head:  # a response to HEAD has no body whatever its Content-Length says (RFC 9110 §9.3.2)
                end_headers = data.find(b"\r\n\r\n", i)
                if end_headers < 0:
                    raise dpkt.NeedData("headers")
                resp = dpkt.http.Response(data[i : end_headers + 4].replace(b"content-length", b"x-length", 1))
                resp.data = data[end_headers + 4 :]
            else:
                resp = dpkt.http.Response(data[i:])
        except dpkt.NeedData:
            out.append(("response", _start_line_fields(data[i:], request=False), i, len(data), False))
            break
        except (dpkt.UnpackError, ValueError, IndexError, TypeError, AttributeError):  # (as in _http_requests)
            break
        end = len(data) - len(resp.data)
        out.append(("response", {"status": int(resp.status), "reason": resp.reason, "version": resp.version,
                                 **_http_body_fields(resp.headers, len(resp.body))}, i, end, True))  # fmt: skip
        if end <= i:
            break
        i = end
    return out or None


def _start_line_fields(data: bytes, *, request: bool) -> dict[str, Any]:
    """What the first line of a message cut short says (the capture, a gap or the bound ended it)."""
    words = data.split(b"\r\n", 1)[0].decode("latin-1").split(None, 2)
    if request and len(words) >= 2:
        return {"method": words[0], "path": words[1], "version": words[2][5:] if len(words) > 2 else ""}
    if not request and len(words) >= 2 and words[1].isdigit():
        return {"status": int(words[1]), "reason": words[2] if len(words) > 2 else "", "version": words[0][5:]}
    return {}


def _http_body_fields(headers: dict[str, Any], body: int) -> dict[str, Any]:
    def one(name: str) -> str | None:
        v = headers.get(name)
        return v[-1] if isinstance(v, list) else v

    fields: dict[str, Any] = {"body_bytes": body}
    length = one("content-length")
    if length is not None and length.strip().isdigit():
        fields["content_length"] = int(length)
    if (one("transfer-encoding") or "").lower() == "chunked":
        fields["chunked"] = True
    conn = (one("connection") or "").lower()
    if conn:
        fields["connection"] = conn
    ctype = one("content-type")
    if ctype:
        fields["content_type"] = ctype
    return fields


def _tls_records(data: bytes) -> list[_Found] | None:
    import dpkt

    if len(data) < 5 or data[0] != 22 or data[1] != 3 or data[2] > 4:
        return None
    out: list[_Found] = []
    i = 0
    while i + 5 <= len(data):
        rtype, version, length = struct.unpack_from("!BHH", data, i)
        if rtype not in _TLS_RECORD_KINDS or version >> 8 != 3:
            break
        end = i + 5 + length
        if end > len(data):
            out.append((_TLS_RECORD_KINDS[rtype], {"record_version": _TLS_VERSIONS.get(version, hex(version))},
                        i, len(data), False))  # fmt: skip
            break
        fields: dict[str, Any] = {"record_version": _TLS_VERSIONS.get(version, hex(version))}
        kind = _TLS_RECORD_KINDS[rtype]
        if rtype == 22:
            try:
                rec = dpkt.ssl.TLSRecord(data[i:end])
                hs = dpkt.ssl.TLSHandshake(rec.data)
                kind = _TLS_HANDSHAKE_KINDS.get(hs.type, "handshake")
                if kind != "handshake":
                    fields.update(_hello_fields(hs.data, client=kind == "client_hello"))
            except (dpkt.UnpackError, dpkt.ssl.SSL3Exception, struct.error, ValueError, IndexError, KeyError):
                kind = "handshake"  # encrypted (after a TLS 1.2 ChangeCipherSpec) or not one we parse
        out.append((kind, fields, i, end, True))
        i = end
    return out or None


def _hello_fields(hello: Any, *, client: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {"version": _TLS_VERSIONS.get(hello.version, hex(hello.version))}
    for ext_type, ext in getattr(hello, "extensions", []):
        if ext_type == _EXT_SNI and client and len(ext) >= 5:
            # server_name_list: list length (2), name type (1, 0 = host_name), name length (2), name
            (n,) = struct.unpack_from("!H", ext, 3)
            fields["sni"] = ext[5 : 5 + n].decode("ascii", "replace")
        elif ext_type == _EXT_SUPPORTED_VERSIONS:
            if client and ext:
                vs = struct.unpack_from(f"!{ext[0] // 2}H", ext, 1)
                fields["supported_versions"] = [_TLS_VERSIONS[v] for v in vs if v in _TLS_VERSIONS]
            elif len(ext) == 2:
                fields["version"] = _TLS_VERSIONS.get(struct.unpack("!H", ext)[0], "?")  # RFC 8446 §4.2.1
        elif ext_type == _EXT_ALPN and len(ext) >= 3:
            names, k = [], 2
            while k < len(ext):
                n = ext[k]
                names.append(ext[k + 1 : k + 1 + n].decode("ascii", "replace"))
                k += 1 + n
            fields["alpn"] = names
    if client and "supported_versions" in fields and fields["supported_versions"]:
        fields["version"] = max(fields["supported_versions"])  # the highest offered: "TLS 1.3"
    if not client and hasattr(hello, "ciphersuite"):
        fields["cipher_suite"] = getattr(hello.ciphersuite, "name", "")
    return fields


def _dns_messages(data: bytes, *, query: bool, strict: bool) -> list[_Found] | None:
    """DNS over TCP (RFC 1035 §4.2.2): each message after a 2-byte length."""
    import dpkt

    out: list[_Found] = []
    i = 0
    while i + 2 <= len(data):
        (n,) = struct.unpack_from("!H", data, i)
        end = i + 2 + n
        if n < 12:
            return None
        if end > len(data):
            if strict:
                return None
            out.append(("query" if query else "answer", {}, i, len(data), False))
            break
        try:
            msg = dpkt.dns.DNS(data[i + 2 : end])
        except (dpkt.UnpackError, struct.error, ValueError, IndexError):
            return None
        if strict and (len(msg.qd) != 1 or msg.opcode != 0 or bool(msg.qr) == query):
            return None
        fields: dict[str, Any] = {"id": msg.id}
        if msg.qd:
            fields["name"] = msg.qd[0].name or "."
            fields["type"] = _DNS_TYPES.get(msg.qd[0].type, str(msg.qd[0].type))
        if msg.qr:
            fields["rcode"] = _DNS_RCODES.get(msg.rcode, str(msg.rcode))
            fields["answers"] = len(msg.an)
        out.append(("answer" if msg.qr else "query", fields, i, end, True))
        i = end
    if i < len(data) and not out:
        return None
    return out or None


def _length_prefixed(data: bytes, size: int, complete: bool) -> list[_Found] | None:
    """Messages of a ``size``-byte big-endian length prefix that tile ``data`` exactly. Only a direction whose
    bytes were all captured (no gap, within the bound) is judged: on a cut one, random data tiles by chance."""
    if not complete:
        return None
    fmt = "!I" if size == 4 else "!H"
    out: list[_Found] = []
    i = 0
    while i < len(data):
        if i + size > len(data):
            return None
        (n,) = struct.unpack_from(fmt, data, i)
        end = i + size + n
        if n == 0 or n > _FRAME_MAX or end > len(data):
            return None
        body = data[i + size : end]
        fields: dict[str, Any] = {"length": n, "prefix": size}
        if _is_text(body[:64]):
            fields["text"] = body[:64].decode("utf-8", "replace")
        out.append(("message", fields, i, end, True))
        i = end
    return out or None


def _is_text(b: bytes) -> bool:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in s)


def _lines(data: bytes) -> list[_Found] | None:
    if not data.endswith(b"\n") or not _is_text(data[:4096]):
        return None
    out: list[_Found] = []
    i = 0
    while i < len(data):
        j = data.index(b"\n", i) + 1
        out.append(("line", {"text": data[i:j].rstrip(b"\r\n")[:80].decode("utf-8", "replace")}, i, j, True))
        i = j
    return out


def _complete(p: Payload) -> bool:
    return not p.gaps and not p.capped


def recognise(
    c2s: Payload, s2c: Payload, server_port: int = 0, client_port: int = 0, *, sent: bool | None = None
) -> AppLayer:
    """The protocol both directions speak and its messages (see the module docstring for the order tried).
    ``sent``: whether the stream carried data at all (a payload the snap length cut is "unknown", not "none")."""
    sides = (c2s, s2c)
    gaps = (c2s.gaps, s2c.gaps)
    capped = (c2s.capped, s2c.capped)
    if not c2s.chunks and not s2c.chunks:
        return AppLayer("unknown" if sent else "none", gaps=gaps, capped=capped)
    details: dict[str, Any] = {}
    found: tuple[list[_Found] | None, list[_Found] | None] = (None, None)
    protocol = "unknown"
    tls = (_tls_records(c2s.data), _tls_records(s2c.data))
    if tls[0] or (tls[1] and not c2s.data):
        protocol, found = "tls", tls
    if protocol == "unknown":
        reqs = _http_requests(c2s.data)
        if reqs:
            methods = [f[1].get("method", "") for f in reqs]
            protocol, found = "http", (reqs, _http_responses(s2c.data, methods))
        elif _http_responses(s2c.data, ()) and not c2s.data:
            protocol, found = "http", (None, _http_responses(s2c.data, ()))
    if protocol == "unknown":
        strict = 53 not in (server_port, client_port)
        dns = (_dns_messages(c2s.data, query=True, strict=strict), _dns_messages(s2c.data, query=False, strict=strict))
        if dns[0] and (dns[1] or not s2c.data):
            protocol, found = "dns", dns
    if protocol == "unknown":
        for size in (4, 2):
            framed = (
                _length_prefixed(c2s.data, size, _complete(c2s)),
                _length_prefixed(s2c.data, size, _complete(s2c)),
            )
            if all(f is not None or not p.data for f, p in zip(framed, sides, strict=True)):
                protocol, found, details = "length-prefixed", framed, {"prefix_bytes": size}
                break
    if protocol == "unknown":
        lines = (_lines(c2s.data), _lines(s2c.data))
        if all(f is not None or not p.data for f, p in zip(lines, sides, strict=True)):
            protocol, found = "lines", lines
    messages: list[AppMessage] = []
    for d, (side, items) in enumerate(zip(sides, found, strict=True)):
        for kind, fields, start, end, whole in items or ():
            messages.append(AppMessage(protocol, d, kind, fields, start, end, tuple(side.carried(start, end)), whole))
    messages.sort(key=lambda m: (min(m.frames, default=0), m.direction, m.start))
    more = max(0, len(messages) - MAX_MESSAGES)
    return AppLayer(protocol, tuple(messages[:MAX_MESSAGES]), more, gaps, capped, details)


def may_be_http_tls_or_dns(segments: Sequence[Any], server_port: int = 0, client_port: int = 0) -> bool:
    """A cheap look at each side's first captured payload: could :func:`recognise` find HTTP, TLS or DNS here?
    (explain tells only those; it skips the reassembly of the rest, the bulk of most captures.)"""
    if 53 in (server_port, client_port):
        return True
    seen = [False, False]
    for s in segments:
        d = int(s.direction)
        if seen[d] or not s.payload or s.header_error:
            continue
        seen[d] = True
        p = s.payload
        if p.startswith(APP_PREFIXES) or (len(p) >= 3 and p[0] == 22 and p[1] == 3):
            return True
        if d == 0 and len(p) >= 8 and (p[0] << 8 | p[1]) >= 12 and not p[4] & 0x80 and p[6:8] == b"\x00\x01":
            return True  # a 2-byte length, then a DNS query header: QR 0, QDCOUNT 1
        if seen[0] and seen[1]:
            break
    return False


def analyse(segments: Iterable[Any], server_port: int = 0, client_port: int = 0) -> AppLayer:
    """:func:`recognise` on one stream's analysed segments (what ``explain`` and ``Flow.app()`` call)."""
    c2s, s2c, sent = payloads(segments)
    return recognise(c2s, s2c, server_port, client_port, sent=sent)


class Collector:
    """Each stream's segments as they go by (capture order), for ``flows --app``, bounded per stream as
    :class:`_Kept` says; :meth:`app` reassembles (tcptrace.follow) and recognises one stream, then lets it go."""

    def __init__(self, limit: int = MAX_BYTES) -> None:
        self.limit = limit
        self._streams: dict[int, _Kept] = {}

    def add(self, seg: Any) -> None:
        kept = self._streams.get(seg.stream)
        if kept is None:
            kept = self._streams[seg.stream] = _Kept(self.limit)
        kept.add(seg)

    def app(self, stream: int, server_port: int = 0, client_port: int = 0) -> AppLayer:
        kept = self._streams.pop(stream, None)
        c2s, s2c, sent = payloads(kept.segs if kept else (), self.limit)
        return recognise(c2s, s2c, server_port, client_port, sent=sent)


__all__ = ["APP_PREFIXES", "MAX_BYTES", "MAX_MESSAGES", "AppLayer", "AppMessage", "Chunk", "Collector", "Payload",
           "analyse", "may_be_http_tls_or_dns", "payloads", "recognise"]  # fmt: skip
