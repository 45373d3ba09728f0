"""Errors raised by tcptrace.

Every error a user can provoke with bad input is a :class:`TcptraceError`; the CLI turns it into one line on
stderr and exit code 2. Anything else escaping the library is a bug.
"""

from __future__ import annotations


class TcptraceError(Exception):
    """Base class of all errors tcptrace raises on purpose."""


class CaptureError(TcptraceError):
    """The input cannot be read as a packet capture."""


class NotACapture(CaptureError):
    """The file is neither pcap nor pcapng (nor a compressed copy of one)."""


class UnsupportedLinkType(CaptureError):
    """The capture (or one of its interfaces) uses a link-layer type tcptrace does not decode."""

    def __init__(self, linktype: int, interface: int | None = None) -> None:
        self.linktype = linktype
        self.interface = interface
        name = LINKTYPE_NAMES.get(linktype)
        what = f"link type {linktype}" + (f" ({name})" if name else "")
        where = f" on interface {interface}" if interface is not None else ""
        super().__init__(
            f"unsupported {what}{where}; tcptrace reads Ethernet, Linux cooked (SLL/SLL2), "
            "BSD loopback (NULL/LOOP) and raw IP captures"
        )


class TruncatedCapture(CaptureError):
    """The capture ends inside its file header, before any packet could be read."""


class OutputError(TcptraceError):
    """What tcptrace was asked to write cannot be written: the output file or standard output."""


class ImageTooLarge(TcptraceError, ValueError):
    """A PNG would be larger than it can be drawn (Agg's 2**16 pixels a side) or held in memory.

    Also a :class:`ValueError` (what it was before it had a class of its own); SVG and PDF have no such limit.
    """


# Names for link types users are likely to meet, for error messages (tcpdump.org/linktypes.html).
LINKTYPE_NAMES: dict[int, str] = {
    0: "NULL",
    1: "ETHERNET",
    6: "IEEE802_5",
    8: "SLIP",
    9: "PPP",
    10: "FDDI",
    12: "RAW",
    14: "RAW (OpenBSD)",
    50: "PPP_HDLC",
    101: "RAW",
    104: "C_HDLC",
    105: "IEEE802_11",
    108: "LOOP",
    113: "LINUX_SLL",
    119: "PRISM_HEADER",
    127: "IEEE802_11_RADIOTAP",
    129: "ARCNET_LINUX",
    143: "DOCSIS",
    147: "USER0",
    192: "PPI",
    195: "IEEE802_15_4",
    197: "ERF",
    201: "BLUETOOTH_HCI_H4_WITH_PHDR",
    220: "USB_LINUX_MMAPPED",
    228: "IPV4",
    229: "IPV6",
    239: "NFLOG",
    247: "INFINIBAND",
    249: "USBPCAP",
    252: "WIRESHARK_UPPER_PDU",
    263: "NETANALYZER",
    276: "LINUX_SLL2",
}
