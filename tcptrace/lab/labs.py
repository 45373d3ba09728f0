"""The table of labs: one row per experiment of the socket tutorials, read by ``tcptrace lab list``, the runner
(:mod:`tcptrace.lab.runner`), ``sample_pcaps/record.sh`` (through ``tcptrace lab NAME --write``) and the tests.

A row says which of the programs in ``programs/`` run on each side and with what arguments (``{host}`` and
``{port}`` are filled in by the runner), where the capture is taken, which rules make the network misbehave
(an iptables DROP, a sysctl) and the facts its story must show. The facts come from the tutorials and from what
the programs do (their docstrings), not from our own output: ``tests/test_lab.py`` checks each one through the
typed analysis of the capture the lab wrote (:func:`tcptrace.lab.facts.check_facts`).

The recipes are those ``sample_pcaps/record.sh`` used to record the sample captures of the same name (a lab
named ``echo`` records ``echo_ipv4.pcap``), so ``record.sh NAME`` and ``tcptrace lab NAME --write NAME.pcap`` are
the same experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

# The server's port in most experiments (the tutorials' echo server) and in the dialogue (the tutorials' "port
# 6000"); a port nobody listens on (refused) and one whose SYNs are dropped (syn_timeout) are other ports, as in
# record.sh, so a rule or a mistake never touches the others.
PORT = 20000
DIALOGUE_PORT = 6000
CLOSED_PORT = 20001
DROPPED_PORT = 20002


@dataclass(frozen=True)
class Rule:
    """A command run in one namespace before the experiment starts (``{port}`` filled in): an iptables rule or
    a sysctl. ``optional`` rules are skipped when the kernel lacks the knob (a sysctl of newer kernels)."""

    side: str  # "server" or "client": the namespace it runs in
    argv: tuple[str, ...]
    optional: bool = False


@dataclass(frozen=True)
class Fact:
    """One thing the story of the lab's capture must show, checked on the typed analysis.

    kinds: ``streams`` (n connections), ``opened``/``closed`` (the summary's words, e.g. ``handshake``,
    ``graceful_close_by_client``), ``states`` (``role``'s states pass through ``values`` in this order),
    ``reset`` (a reset by ``role`` with cause code ``value``), ``syn_backoff`` (at least ``n`` retransmitted
    SYNs, each gap about twice the one before), ``flag`` (a step carries Wireshark's analysis flag ``value``),
    ``bytes`` (direction ``role``, ``c2s`` or ``s2c``, carried ``n`` bytes of payload), ``segments`` (in ``n`` data
    segments), ``retransmissions`` (direction ``role`` re-sent data, and steps say so with Wireshark's flags).
    Every connection of the capture must show it (``streams`` excepted)."""

    kind: str
    value: str = ""
    role: str = ""
    values: tuple[str, ...] = ()
    n: int = 0


@dataclass(frozen=True)
class Lab:
    """One experiment: the programs, the network, the capture, and what its story must show."""

    name: str
    title: dict[str, str]  # language -> one line, as `tcptrace lab list` prints it
    port: int
    server: tuple[str, ...] | None  # program file in programs/ and its arguments; None: nobody listens
    clients: tuple[tuple[str, ...], ...]  # started one after another, each once the previous one is connected
    facts: tuple[Fact, ...]
    capture_on: str = "client"  # the side of the veth pair the capture is taken on
    snaplen: int = 0  # 0: whole packets
    rules: tuple[Rule, ...] = ()
    needs: tuple[str, ...] = ()  # programs the network setup needs besides ip and tcpdump/dumpcap
    sample: str = ""  # the sample capture record.sh makes with this lab (default: NAME.pcap)

    @property
    def programs(self) -> tuple[str, ...]:
        """The program files this lab runs (server first), each once."""
        files = ([self.server[0]] if self.server else []) + [c[0] for c in self.clients]
        return tuple(dict.fromkeys(files))


HOST_PORT = ("--host", "{host}", "--port", "{port}")


def _both(program: str, *extra: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """A program with a ``server`` and a ``client`` role, the same extra arguments for both."""
    return (program, "server", *HOST_PORT, *extra), ((program, "client", *HOST_PORT, *extra),)


HANDSHAKE = Fact("opened", "handshake")
# RFC 9293 section 3.3.2: the side that closes first goes FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT, the other
# CLOSE_WAIT -> LAST_ACK -> CLOSED.
ACTIVE_CLOSE = ("FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT")
PASSIVE_CLOSE = ("CLOSE_WAIT", "LAST_ACK", "CLOSED")


def _finish(closer: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    return _both("finish.py", "--closer", closer)


_FINISH_FACTS = {
    "client": (
        Fact("closed", "graceful_close_by_client"),
        Fact("states", role="client", values=ACTIVE_CLOSE),
        Fact("states", role="server", values=PASSIVE_CLOSE),
    ),
    "server": (
        Fact("closed", "graceful_close_by_server"),
        Fact("states", role="server", values=ACTIVE_CLOSE),
        Fact("states", role="client", values=PASSIVE_CLOSE),
    ),
    # Simultaneous close: both FINs cross, each side goes FIN_WAIT_1 -> CLOSING -> TIME_WAIT (RFC 9293 3.6,
    # figure 13) -- when the timing works out; finish.py spins to the same instant on both sides to make it so.
    "both": (Fact("states", role="client", values=("FIN_WAIT_1", "CLOSING", "TIME_WAIT")),),
}

LABS: tuple[Lab, ...] = (
    Lab(
        "echo",
        {
            "en": 'echo server: connect, send "AB", read the echo, close',
            "zh": "回显服务器：连接，发送 “AB”，读回显，关闭",
        },
        PORT,
        ("echo_server.py", *HOST_PORT),
        (("echo_client.py", *HOST_PORT),),
        (
            HANDSHAKE,
            Fact("bytes", role="c2s", n=2),
            Fact("bytes", role="s2c", n=2),
            Fact("closed", "graceful_close_by_client"),
            Fact("states", role="client", values=("SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "TIME_WAIT")),
        ),
        sample="echo_ipv4",
    ),
    Lab(
        "dialogue",
        {
            "en": "welcome/name dialogue on port 6000; the server closes first after exit",
            "zh": "6000 端口上的欢迎/姓名对话；收到 exit 后服务器先关闭",
        },
        DIALOGUE_PORT,
        *_both("dialogue.py"),
        (HANDSHAKE, Fact("closed", "graceful_close_by_server"), Fact("bytes", role="c2s", n=len("Alice\nexit\n"))),
    ),
    Lab(
        "dialogue_threaded",
        {
            "en": "the dialogue with three clients at once, one server thread each",
            "zh": "三个客户端同时对话，服务器每个连接一个线程",
        },
        DIALOGUE_PORT,
        ("dialogue.py", "server", *HOST_PORT, "--count", "3", "--threaded"),
        tuple(
            ("dialogue.py", "client", *HOST_PORT, "--name", name, "--pause", "1.0")
            for name in ("Alice", "Bob", "Carol")
        ),
        (Fact("streams", n=3), HANDSHAKE, Fact("closed", "graceful_close_by_server")),
    ),
    Lab(
        "finish_client_closes",
        {
            "en": "five messages, End/Finish!, the client closes first (TIME_WAIT on the client)",
            "zh": "五条消息，End/Finish!，客户端先关闭（客户端进入 TIME_WAIT）",
        },
        PORT,
        *_finish("client"),
        (HANDSHAKE, Fact("bytes", role="s2c", n=len("Finish!\n")), *_FINISH_FACTS["client"]),
    ),
    Lab(
        "finish_server_closes",
        {
            "en": "five messages, End/Finish!, the server closes first (CLOSE_WAIT on the client)",
            "zh": "五条消息，End/Finish!，服务器先关闭（客户端进入 CLOSE_WAIT）",
        },
        PORT,
        *_finish("server"),
        (HANDSHAKE, *_FINISH_FACTS["server"]),
    ),
    Lab(
        "finish_both_close",
        {
            "en": "five messages, End/Finish!, both close at the same instant (simultaneous close, CLOSING)",
            "zh": "五条消息，End/Finish!，双方同时关闭（同时关闭，CLOSING）",
        },
        PORT,
        *_finish("both"),
        (HANDSHAKE, *_FINISH_FACTS["both"]),
    ),
    Lab(
        "refused",
        {
            "en": "connect to a port nobody listens on: RST/ACK, connection refused",
            "zh": "连接无人监听的端口：RST/ACK，连接被拒绝",
        },
        CLOSED_PORT,
        None,
        (("refused_client.py", *HOST_PORT),),
        (Fact("opened", "refused"), Fact("reset", "refused", role="server")),
    ),
    Lab(
        "abort_rst",
        {
            "en": "abortive close: SO_LINGER 0 makes close() send a RST instead of a FIN",
            "zh": "异常关闭：SO_LINGER 为 0 时 close() 发送 RST 而不是 FIN",
        },
        PORT,
        *_both("abort_rst.py"),
        (HANDSHAKE, Fact("closed", "reset_by_client"), Fact("reset", "abortive", role="client")),
    ),
    Lab(
        "rst_after_close",
        {
            "en": "data sent after the peer closed its socket: answered with a RST",
            "zh": "对端关闭套接字后再发送数据：对端回 RST",
        },
        PORT,
        *_both("rst_after_close.py"),
        (
            HANDSHAKE,
            Fact("closed", "reset_by_server"),
            Fact("reset", "closed_socket", role="server"),
            Fact("states", role="server", values=("FIN_WAIT_1", "FIN_WAIT_2")),
            Fact("states", role="client", values=("CLOSE_WAIT",)),
        ),
    ),
    Lab(
        "half_close",
        {
            "en": "half-close: shutdown(SHUT_WR), the other side keeps sending",
            "zh": "半关闭：shutdown(SHUT_WR) 之后对端继续发送",
        },
        PORT,
        *_both("half_close.py"),
        (
            HANDSHAKE,
            Fact("closed", "graceful_close_by_client"),
            Fact("bytes", role="s2c", n=300),  # all of it after the client's FIN
            Fact("states", role="client", values=ACTIVE_CLOSE),
        ),
    ),
    Lab(
        "syn_timeout",
        {
            "en": "SYNs to a host that drops them: retransmitted with exponential back-off, then a timeout",
            "zh": "SYN 被对端丢弃：按指数退避重传，最后超时",
        },
        DROPPED_PORT,
        None,
        (("syn_timeout_client.py", *HOST_PORT, "--timeout", "7.5"),),
        (Fact("opened", "unanswered_syn"), Fact("syn_backoff", n=3)),
        # Linux 6.5+ first retransmits the SYN tcp_syn_linear_timeouts times 1 s apart; 0 restores the classic
        # doubling (per namespace: the host's own setting is not touched).
        rules=(
            Rule("client", ("sysctl", "-qw", "net.ipv4.tcp_syn_linear_timeouts=0"), optional=True),
            Rule("server", ("iptables", "-A", "INPUT", "-p", "tcp", "--dport", "{port}", "-j", "DROP")),
        ),
        needs=("iptables",),
    ),
    Lab(
        "coalesced",
        {
            "en": 'sticky packets: two send() calls ("hello ", "world!") arrive as one segment',
            "zh": "粘包：两次 send()（“hello ”、“world!”）合成一个报文段到达",
        },
        PORT,
        *_both("coalesced.py"),
        (HANDSHAKE, Fact("bytes", role="c2s", n=12), Fact("segments", role="c2s", n=1)),
    ),
    Lab(
        "framing",
        {
            "en": "length-prefixed framing: a 4-byte length, then the body, whatever the segments",
            "zh": "长度前缀分帧：先 4 字节长度，再正文，与报文段如何切分无关",
        },
        PORT,
        ("framing.py", "server", *HOST_PORT),
        (("framing.py", "client", *HOST_PORT, "--size", "20000"),),
        (HANDSHAKE, Fact("bytes", role="s2c", n=4 + 20000), Fact("closed", "graceful_close_by_client")),
    ),
    Lab(
        "zero_window",
        {
            "en": "a slow reader: the receive window closes (zero window), probes, then a window update",
            "zh": "读得慢的接收方：接收窗口关闭（零窗口），探测，然后窗口更新",
        },
        PORT,
        ("zero_window.py", "server", *HOST_PORT, "--rcvbuf", "4096", "--stall", "2"),
        (("zero_window.py", "client", *HOST_PORT, "--size", "65536"),),
        (HANDSHAKE, Fact("flag", "zero_window"), Fact("flag", "window_update"), Fact("bytes", role="c2s", n=65536)),
    ),
    Lab(
        "lossy_bulk",
        {
            "en": "600 kB from the server with 2 % random loss: retransmissions, duplicate ACKs, SACK",
            "zh": "服务器发送 600 kB，随机丢包 2%：重传、重复 ACK、SACK",
        },
        PORT,
        ("bulk.py", "server", *HOST_PORT, "--size", "600000", "--congestion", "cubic"),
        (("bulk.py", "client", *HOST_PORT, "--rcvbuf", "131072"),),
        (HANDSHAKE, Fact("retransmissions", role="s2c"), Fact("bytes", role="s2c", n=600000)),
        capture_on="server",  # the sender's view: each lost segment is seen sent, then re-sent
        snaplen=128,
        rules=(
            # Drop 2 % of the server's segments where they arrive (the client's INPUT), the SYN/ACK excepted so
            # the handshake never waits for a 1 s SYN/ACK timeout.
            Rule(
                "client",
                (
                    "iptables",
                    "-A",
                    "INPUT",
                    "-p",
                    "tcp",
                    "--sport",
                    "{port}",
                    "!",
                    "--tcp-flags",
                    "SYN",
                    "SYN",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    "0.02",
                    "-j",
                    "DROP",
                ),
            ),
        ),
        # ethtool: with the offloads on, 600 kB leave as some twenty 64 KB super-segments, and 2 % of twenty is
        # often no loss at all
        needs=("iptables", "ethtool"),
    ),
)

BY_NAME: dict[str, Lab] = {lab.name: lab for lab in LABS}

# The lines the runner prints before the programs start, per language.
HEADER = {
    "en": {
        "header": "lab {name}: {title}\n  server {host} port {port}; capture on {iface} in {where}\n",
        "namespace": "namespace {ns}",
        "host": "the host (not root)",
        "server": "server",  # labels the programs' own output lines
        "client": "client",
    },
    "zh": {
        "header": "实验 {name}：{title}\n  服务器 {host} 端口 {port}；在{where}的 {iface} 上抓包\n",
        "namespace": "网络命名空间 {ns} ",
        "host": "本机（非 root）",
        "server": "服务器",
        "client": "客户端",
    },
}


def title(lab: Lab, lang: str) -> str:
    return lab.title.get(lang, lab.title["en"])
