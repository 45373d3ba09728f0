"""What the application said: HTTP/1.x, TLS records, DNS over TCP and simple framings, found in a stream's
reassembled bytes with dpkt's protocol parsers. Off the hot path: only ``explain`` and ``flows --app`` ask.

Theory of operation. :func:`reassemble` turns one direction's segments (relative seq, payload, frame) into a
:class:`Payload`: the bytes the receiving application read, in order, first copy wins (a retransmission adds only
bytes not seen before), each byte range labelled with the frame that carried it, holes listed as gaps. It looks at
most :data:`MAX_BYTES` bytes per direction (docs/limits.md). :func:`recognise` then tries, in order, TLS (records
``16 03 0x``; dpkt.ssl's ClientHello/ServerHello with the SNI and supported_versions extensions), HTTP/1.x
(dpkt.http.Request/Response: method, path, status, Content-Length or chunked, several messages on one
connection), DNS over TCP (port 53 or a 2-byte length prefix whose every message dpkt.dns parses), a 4- or
2-byte big-endian length prefix whose messages exactly tile each direction, and newline-delimited text. Each
message is an :class:`AppMessage` (protocol, direction, kind, summary fields, byte range, the frames and the
bytes each carried): classify here, render in tcptrace.narrate and tcptrace.export. The parsers read only the
contiguous prefix of a direction (up to its first gap); a message cut by the gap, the snap length or the bound
is marked incomplete. dpkt is imported here and nowhere else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .seqnum import diff as seq_diff

MAX_BYTES = 65536  # bytes examined per direction of a stream (docs/limits.md, "Per stream")
MAX_MESSAGES = 200  # messages kept per stream; later ones are counted in AppLayer.more
_FRAME_MAX = 16 * 1024 * 1024  # a length prefix above this is not taken for a framing

PROTOCOLS = ("http", "tls", "dns", "length-prefixed", "lines", "unknown", "none")

_HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"PATCH ", b"CONNECT ", b"TRACE ")
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
    examined. Offsets count from the direction's first data byte (relative seq 1 on a stream with its SYN)."""

    data: bytes = b""
    chunks: tuple[Chunk, ...] = ()
    gaps: tuple[tuple[int, int], ...] = ()
    capped: bool = False
    first_seq: int = 0  # relative seq of offset 0

    def carried(self, start: int, end: int) -> list[tuple[int, int]]:
        """(frame, bytes) of each segment that carried part of ``[start, end)``, in stream order."""
        out: dict[int, int] = {}
        for c in self.chunks:
            lo, hi = max(start, c.offset), min(end, c.offset + c.length)
            if lo < hi:
                out[c.frame] = out.get(c.frame, 0) + hi - lo
        return list(out.items())


def reassemble(segments: Iterable[tuple[int, bytes, int]], limit: int = MAX_BYTES) -> Payload:
    """One direction's ``(relative seq, captured payload, frame)`` in capture order -> :class:`Payload`.

    The stream starts at the lowest sequence number seen (modulo 2**32, from the first data segment); the first
    copy of a byte wins, as the receiver keeps it. A payload cut by the snap length leaves a gap."""
    segs = [(seq, data, frame) for seq, data, frame in segments if data]
    if not segs:
        return Payload()
    first = segs[0][0]
    base = (first + min(0, min(seq_diff(seq, first) for seq, _, _ in segs))) & 0xFFFFFFFF
    size = min(limit, max(seq_diff(seq, base) + len(data) for seq, data, _ in segs))
    buf = bytearray(size)
    have = bytearray(size)
    chunks: list[Chunk] = []
    top = 0
    capped = False
    for seq, data, frame in segs:
        a = seq_diff(seq, base)
        b = a + len(data)
        if b > limit:
            capped = True
        lo, hi = max(a, 0), min(b, size)
        i = lo
        while i < hi:  # the parts of [lo, hi) not placed yet: the first copy wins
            j = have.find(0, i, hi)
            if j < 0:
                break
            k = have.find(1, j, hi)
            k = hi if k < 0 else k
            buf[j:k] = data[j - a : k - a]
            have[j:k] = b"\x01" * (k - j)
            chunks.append(Chunk(j, k - j, frame))
            i = k
        top = max(top, hi)
    gaps: list[tuple[int, int]] = []
    i = 0
    while i < top:
        j = have.find(0, i, top)
        if j < 0:
            break
        k = have.find(1, j, top)
        k = top if k < 0 else k
        gaps.append((j, k - j))
        i = k
    contiguous = gaps[0][0] if gaps else top
    chunks.sort(key=lambda c: c.offset)
    return Payload(bytes(buf[:contiguous]), tuple(chunks), tuple(gaps), capped, base)


def payloads(segments: Iterable[Any], limit: int = MAX_BYTES) -> tuple[Payload, Payload, bool]:
    """Both directions of one stream's analysed segments (tcptrace.model.Segment: ``direction``, relative
    ``seq``, ``len``, ``payload``, ``frame``), and whether any segment carried data (captured or not)."""
    sides: tuple[list[tuple[int, bytes, int]], list[tuple[int, bytes, int]]] = ([], [])
    sent = False
    for s in segments:
        if s.len and not s.header_error:
            sent = True
            if s.payload:
                sides[int(s.direction)].append((s.seq, s.payload, s.frame))
    return reassemble(sides[0], limit), reassemble(sides[1], limit), sent


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
        except (dpkt.UnpackError, ValueError, IndexError):
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
        except (dpkt.UnpackError, ValueError, IndexError):
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


def analyse(segments: Iterable[Any], server_port: int = 0, client_port: int = 0) -> AppLayer:
    """:func:`recognise` on one stream's analysed segments (what ``explain`` and ``Flow.app()`` call)."""
    c2s, s2c, sent = payloads(segments)
    return recognise(c2s, s2c, server_port, client_port, sent=sent)


class Collector:
    """Each stream's payload as segments go by (capture order), kept per direction only up to twice
    :data:`MAX_BYTES` (room for retransmitted and out-of-order copies), so a capture of big transfers costs at most
    that per stream; :meth:`app` reassembles and recognises one stream."""

    def __init__(self, limit: int = MAX_BYTES) -> None:
        self.limit = limit
        self._segs: dict[int, tuple[list[tuple[int, bytes, int]], list[tuple[int, bytes, int]]]] = {}
        self._kept: dict[int, list[int]] = {}
        self._sent: set[int] = set()

    def add(self, seg: Any) -> None:
        if not seg.len or seg.header_error:
            return
        n = seg.stream
        self._sent.add(n)
        if not seg.payload:
            return
        sides = self._segs.get(n)
        if sides is None:
            sides = self._segs[n] = ([], [])
            self._kept[n] = [0, 0]
        d = int(seg.direction)
        kept = self._kept[n]
        if kept[d] < 2 * self.limit:
            sides[d].append((seg.seq, seg.payload, seg.frame))
            kept[d] += len(seg.payload)

    def app(self, stream: int, server_port: int = 0, client_port: int = 0) -> AppLayer:
        sides = self._segs.pop(stream, ([], []))
        c2s, s2c = reassemble(sides[0], self.limit), reassemble(sides[1], self.limit)
        return recognise(c2s, s2c, server_port, client_port, sent=stream in self._sent)


__all__ = ["MAX_BYTES", "MAX_MESSAGES", "AppLayer", "AppMessage", "Chunk", "Collector", "Payload", "analyse",
           "payloads", "reassemble", "recognise"]  # fmt: skip
