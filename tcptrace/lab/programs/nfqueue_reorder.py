#!/usr/bin/env python3
"""Drop some packets of an NFQUEUE and deliver others late (reordering).

    nfqueue_reorder.py [--queue N] [--drop I,J,...] [--hold K,L,...] [--max-hold MS]

A helper (neither client nor server) for kernels without netem: an iptables
rule such as

    iptables -A INPUT -p tcp --sport 20000 -m length --length 1500 \\
             -j NFQUEUE --queue-num 0

hands every packet it matches to this program through netlink (NFQUEUE,
nfnetlink_queue). The program numbers them from 1 in the order they come
(retransmissions included) and gives the kernel its verdict on each:

  --drop I,J   packets number I, J, ... are dropped (NF_DROP): lost;
  --hold K,L   packets number K, L, ... are held back until a later packet
               with the same TCP sequence number (the sender's
               retransmission of it) has been let through, and then let
               through just after it (or after MS milliseconds, default
               200, if no such packet comes): the original arrives after
               its copy, as on a path that reorders;
  all others are let through (NF_ACCEPT) at once, in order.

So the losses and the reordering hit the same packets whatever the timing.
For every packet dropped or held it prints one line (number, TCP sequence
number, payload length, from the first 128 bytes of the packet, which is all
the kernel copies to it).

It talks to the kernel directly with an AF_NETLINK socket (standard library
only, no libnetfilter_queue): bind to queue N for IPv4, copy mode "packet",
then read NFQNL_MSG_PACKET messages and answer NFQNL_MSG_VERDICT ones.
Verdicts may be given in any order, so holding one packet never holds the
others. It runs until killed (record.sh starts it under `timeout`). Needs
CAP_NET_ADMIN (root) in the namespace where the rule is.
"""

import argparse
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_PAYLOAD = 10
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 2
NF_DROP = 0
NF_ACCEPT = 1
COPY_RANGE = 128


def numbers(text):
    return {int(x) for x in text.split(",") if x}


def parse_args():
    ap = argparse.ArgumentParser(description="drop and reorder the packets of an NFQUEUE")
    ap.add_argument("--queue", type=int, default=0, help="queue number (iptables --queue-num)")
    ap.add_argument("--drop", type=numbers, default=set(), help="numbers of the packets to drop, e.g. 40,140")
    ap.add_argument("--hold", type=numbers, default=set(), help="numbers of the packets to deliver after their copy")
    ap.add_argument("--max-hold", type=float, default=200.0, help="milliseconds a packet is held at most")
    return ap.parse_args()


def align4(n):
    return (n + 3) & ~3


def attr(kind, payload):
    """One netlink attribute (struct nlattr + payload, padded to 4 bytes)."""
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (align4(len(raw)) - len(raw))


class Queue:
    def __init__(self, number):
        self.number = number
        self.seq = 0
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))

    def send(self, msg_type, attrs, flags=NLM_F_REQUEST):
        self.seq += 1
        # struct nfgenmsg: family, version (NFNETLINK_V0), resource id
        # (the queue number, big-endian).
        body = struct.pack("!BBH", socket.AF_INET, 0, self.number) + b"".join(attrs)
        header = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(header + body)

    def bind(self):
        # struct nfqnl_msg_config_cmd {u8 command; u8 pad; be16 pf}
        self.send(
            NFQNL_MSG_CONFIG,
            [attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET))],
            NLM_F_REQUEST | NLM_F_ACK,
        )
        self.check_ack()
        # struct nfqnl_msg_config_params {be32 copy_range; u8 copy_mode} (packed)
        self.send(
            NFQNL_MSG_CONFIG,
            [attr(NFQA_CFG_PARAMS, struct.pack("!IB", COPY_RANGE, NFQNL_COPY_PACKET))],
            NLM_F_REQUEST | NLM_F_ACK,
        )
        self.check_ack()

    def check_ack(self):
        data = self.sock.recv(65536)
        (msg_type,) = struct.unpack_from("=H", data, 4)
        if msg_type != NLMSG_ERROR:
            raise SystemExit(f"unexpected netlink answer type {msg_type}")
        (error,) = struct.unpack_from("=i", data, 16)
        if error:
            raise SystemExit(f"NFQUEUE configuration failed: errno {-error}")

    def verdict(self, packet_id, verdict=NF_ACCEPT):
        # struct nfqnl_msg_verdict_hdr {be32 verdict; be32 id}
        self.send(NFQNL_MSG_VERDICT, [attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id))])

    def packets(self):
        """Yield (packet id, first bytes of the packet) for one recv()."""
        data = self.sock.recv(1 << 16)
        offset = 0
        while offset + 16 <= len(data):
            length, msg_type = struct.unpack_from("=IH", data, offset)
            if length < 16:
                break
            if msg_type == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                packet_id, payload = None, b""
                pos, end = offset + 20, offset + length  # nlmsghdr 16 + nfgenmsg 4
                while pos + 4 <= end:
                    alen, akind = struct.unpack_from("=HH", data, pos)
                    if alen < 4:
                        break
                    value = data[pos + 4 : pos + alen]
                    akind &= 0x3FFF  # without NLA_F_NESTED / NLA_F_NET_BYTEORDER
                    if akind == NFQA_PACKET_HDR:
                        (packet_id,) = struct.unpack_from("!I", value)
                    elif akind == NFQA_PAYLOAD:
                        payload = value
                    pos += align4(alen)
                if packet_id is not None:
                    yield packet_id, payload
            elif msg_type == NLMSG_ERROR:
                (error,) = struct.unpack_from("=i", data, offset + 16)
                if error:
                    print(f"netlink error {-error}", file=sys.stderr, flush=True)
            offset += align4(length)


def tcp_fields(packet):
    """(sequence number, payload length) of an IPv4/TCP packet, or None."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != socket.IPPROTO_TCP:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 13:
        return None
    total = struct.unpack_from("!H", packet, 2)[0]
    (seq,) = struct.unpack_from("!I", packet, ihl + 4)
    doff = (packet[ihl + 12] >> 4) * 4
    return seq, total - ihl - doff


def main():
    args = parse_args()
    queue = Queue(args.queue)
    queue.bind()
    print(f"queue {args.queue}: dropping {sorted(args.drop)}, holding {sorted(args.hold)}", flush=True)
    count = 0
    held = {}  # TCP sequence number -> (packet id, release deadline, number)
    while True:
        deadline = min((d for _, d, _ in held.values()), default=None)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([queue.sock], [], [], timeout)
        if readable:
            for packet_id, packet in queue.packets():
                count += 1
                fields = tcp_fields(packet)
                what = f"seq {fields[0]} len {fields[1]}" if fields else f"{len(packet)} bytes, not IPv4/TCP"
                if count in args.drop:
                    queue.verdict(packet_id, NF_DROP)
                    print(f"dropped packet {count}: {what}", flush=True)
                elif count in args.hold and fields:
                    held[fields[0]] = (packet_id, time.monotonic() + args.max_hold / 1000, count)
                    print(f"holding packet {count}: {what}", flush=True)
                else:
                    queue.verdict(packet_id)
                    if fields and fields[0] in held:
                        # Its copy is through: now the original, behind it.
                        original, _, number = held.pop(fields[0])
                        queue.verdict(original)
                        print(f"released packet {number} after packet {count}, its copy", flush=True)
        now = time.monotonic()
        for seq, (packet_id, deadline, number) in list(held.items()):
            if deadline <= now:
                del held[seq]
                queue.verdict(packet_id)
                print(f"released packet {number} after {args.max_hold:g} ms: no copy came", flush=True)


if __name__ == "__main__":
    main()
