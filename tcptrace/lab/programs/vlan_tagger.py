#!/usr/bin/env python3
"""A VLAN sub-interface in user space: 802.1Q tagging between a TAP and a NIC.

    vlan_tagger.py --tap NAME --parent IF [--vid N]

What `ip link add link IF name NAME type vlan id N` does in the kernel, for
kernels built without 802.1Q support (CONFIG_VLAN_8021Q unset, as on the
machine these captures were recorded on). It creates the TAP interface NAME
in the current network namespace (it exists as long as this program runs;
give it its address, MAC and "up" with ip(8)), then relays frames:

  NAME -> IF   every Ethernet frame the kernel sends on NAME gets an 802.1Q
               tag (TPID 0x8100, priority 0, DEI 0, VLAN id N) inserted after
               the two MAC addresses and is sent on IF, 4 bytes longer;
  IF -> NAME   every frame arriving on IF tagged with VLAN id N is written to
               NAME without its tag. Other frames are left alone (the kernel
               drops tagged frames it has no VLAN interface for).

The Linux receive path moves the tag of an incoming frame out of the frame
into the packet's metadata before packet sockets see it; it is read back
from the PACKET_AUXDATA control message (a tag still in the frame is
accepted too). Needs root (CAP_NET_ADMIN, CAP_NET_RAW). Only the standard
library.
"""

import argparse
import fcntl
import os
import select
import socket
import struct

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_P_ALL = 0x0003
TPID_8021Q = 0x8100
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 1 << 4
# struct tpacket_auxdata: status, len, snaplen, mac, net, vlan_tci, vlan_tpid
AUXDATA = struct.Struct("IIIHHHH")


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def tag(frame, vid):
    return frame[:12] + struct.pack("!HH", TPID_8021Q, vid & 0x0FFF) + frame[12:]


def untag(frame, ancdata, vid):
    """The frame without its tag if it is tagged with vid, else None."""
    for level, kind, data in ancdata:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= AUXDATA.size:
            status, *_, tci, _tpid = AUXDATA.unpack_from(data)
            if status & TP_STATUS_VLAN_VALID:
                return frame if tci & 0x0FFF == vid else None
    tpid, tci = struct.unpack_from("!HH", frame, 12)
    if tpid == TPID_8021Q and tci & 0x0FFF == vid:
        return frame[:12] + frame[16:]
    return None


def main():
    ap = argparse.ArgumentParser(description="user-space 802.1Q VLAN sub-interface")
    ap.add_argument("--tap", required=True, help="name of the TAP interface to create")
    ap.add_argument("--parent", required=True, help="the interface that carries the tagged frames")
    ap.add_argument("--vid", type=int, default=100, help="VLAN id")
    args = ap.parse_args()

    tap = open_tap(args.tap)
    nic = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    nic.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    nic.bind((args.parent, ETH_P_ALL))
    print(f"tagging {args.tap} <-> {args.parent} VLAN {args.vid}", flush=True)
    cmsg_space = socket.CMSG_SPACE(AUXDATA.size)
    while True:
        ready, _, _ = select.select([tap, nic], [], [])
        if tap in ready:
            nic.send(tag(os.read(tap, 65536), args.vid))
        if nic in ready:
            frame, ancdata, _, addr = nic.recvmsg(65536, cmsg_space)
            if addr[2] == socket.PACKET_OUTGOING:
                continue  # a frame sent on the parent, not received
            inner = untag(frame, ancdata, args.vid)
            if inner is not None:
                os.write(tap, inner)


if __name__ == "__main__":
    main()
