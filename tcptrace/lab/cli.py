"""``tcptrace lab``: the command group (registered by :mod:`tcptrace.cli`; thin, as the rest of the CLI).

``tcptrace lab list`` prints the table, ``tcptrace lab NAME`` runs one lab (one subcommand per row of
:data:`tcptrace.lab.labs.LABS`), ``tcptrace lab run SERVER CLIENT`` runs a pair of the learner's own programs
the same way. Exit status: 0 when the experiment went as its programs expect, 1 when a program failed or the
capture missed packets (the story of what was captured is still told), 2 when the lab cannot run here (one line
saying what is needed), 130 on Ctrl-C (the programs and the capture are ended, the namespaces deleted, and the
story of what was captured so far is told).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from ..messages import LANGUAGES
from .labs import LABS, Lab, title

LAB_HELP = """Run one of the socket tutorials' experiments on a private network and tell its story.

As root (sudo), each lab gets two fresh network namespaces joined by a veth pair (server 10.99.0.1, client
10.99.0.2: addresses that exist only inside them, deleted afterwards); tcpdump or dumpcap captures there while
the lab's server and client programs run, and the capture is explained step by step. Without root the programs
run on the host loopback if you may capture there (dumpcap in the wireshark group, tcpdump with cap_net_raw);
labs that change the network (dropped SYNs, packet loss) need root.

`tcptrace lab list` shows the labs; `tcptrace lab NAME --show-code` prints the programs a lab runs, to copy,
change and run with `tcptrace lab run SERVER.py CLIENT.py`.
"""


def _common(f: Any) -> Any:
    f = click.option("-v", "--verbose", is_flag=True, help="One step per packet: do not collapse data and ACKs.")(f)
    f = click.option("--color/--no-color", default=None,
                     help="Colour the output (default: on a terminal, unless NO_COLOR is set).")(f)  # fmt: skip
    f = click.option("--write", "write", type=click.Path(dir_okay=False, writable=True), default=None,
                     help="Keep the capture in FILE (pcap; dumpcap: pcapng), for Wireshark.")(f)  # fmt: skip
    return click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="en", show_default=True,
                        help="Language of the story.")(f)  # fmt: skip


def _run(lab: Lab, lang: str, write: str | None, color: bool | None, verbose: bool, **kw: Any) -> None:
    from ..cli import EXIT_NO, _terminal_status, _use_color
    from .runner import run_lab

    use_color = _use_color(color)
    status = _terminal_status if sys.stdout.isatty() else None  # a long transfer's running line, as explain -i
    run = run_lab(lab, echo=lambda text: click.echo(text, nl=False, color=use_color), lang=lang, write=write,
                  color=use_color, verbose=verbose, status=status, **kw)  # fmt: skip
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    if run.warnings:  # a program failed or the capture missed packets: the story may not be the lab's
        raise SystemExit(EXIT_NO)


class _LabGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return ["list", "run", *(row.name for row in LABS)]  # the labs in the table's order, not alphabetical


@click.group("lab", cls=_LabGroup, help=LAB_HELP, context_settings={"help_option_names": ["-h", "--help"]})
def lab() -> None:
    pass


@lab.command("list")
@click.option("--lang", type=click.Choice(sorted(LANGUAGES)), default="en", show_default=True, help="Language.")
def list_labs(lang: str) -> None:
    """The labs, with the port each uses and what it shows."""
    width = max(len(row.name) for row in LABS)
    for row in LABS:
        click.echo(f"{row.name:<{width}}  {row.port:>5}  {title(row, lang)}")


def _filled(words: tuple[str, ...], port: int) -> list[str]:
    from .network import SERVER_ADDR  # (not at import: the network module is start-up time for every command)

    return [w.replace("{host}", SERVER_ADDR).replace("{port}", str(port)) for w in words]


def _extra_args(words: tuple[str, ...]) -> list[str]:
    """A program's arguments beyond what `lab run` gives it (the role word, --host and --port)."""
    rest = list(words[1:])
    if rest[:1] in (["server"], ["client"]):
        rest = rest[1:]
    out = []
    while rest:
        word = rest.pop(0)
        if word in ("--host", "--port") and rest and rest[0] in ("{host}", "{port}"):
            rest.pop(0)
            continue
        out.append(word)
    return out


def program_listing(row: Lab) -> str:
    """The programs ``row`` runs, each with the command that runs it, and the ``lab run`` line to run copies."""
    from .runner import PROGRAMS

    out = []
    sides = ([("server", row.server)] if row.server else []) + [("client", c) for c in row.clients]
    for program in row.programs:
        uses = dict.fromkeys(f"python3 {shlex.join(_filled(w, row.port))}" for _, w in sides if w[0] == program)
        out.append(f"# ==== {program} ({PROGRAMS / program})\n")
        out.extend(f"# run as: {u}\n" for u in uses)
        out.append((PROGRAMS / program).read_text(encoding="utf-8"))
        out.append("\n")
    if row.server:
        server, client = row.server, row.clients[0]
        cmd = ["sudo", "tcptrace", "lab", "run", server[0], client[0], "--port", str(row.port)]
        for opt, words in (("--server-args", server), ("--client-args", client)):
            extra = _extra_args(words)
            if extra:
                cmd += [opt, shlex.join(extra)]
        out.append(f"# Copy, change and run them (in the same network, without this lab's rules):\n#   "
                   f"{shlex.join(cmd)}\n")  # fmt: skip
    if row.rules:
        out.append("# The lab also sets, before it starts:\n")
        out.extend(f"#   ({rule.side}) {shlex.join(_filled(rule.argv, row.port))}\n" for rule in row.rules)
    return "".join(out)


def _lab_command(row: Lab) -> click.Command:
    @_common
    @click.option("--show-code", is_flag=True, help="Print the client and server programs instead of running them.")
    def command(lang: str, write: str | None, color: bool | None, verbose: bool, show_code: bool) -> None:
        if show_code:
            click.echo(program_listing(row), nl=False)
            return
        _run(row, lang, write, color, verbose)

    doc = f"{title(row, 'en')}.\n\n{title(row, 'zh')}。\n\nPort {row.port}."
    if row.rules:
        doc += " Needs root: the lab changes its private network (" + ", ".join(row.needs) + ")."
    return click.command(row.name, help=doc)(command)


for _row in LABS:
    lab.add_command(_lab_command(_row))


@lab.command("run")
@click.argument("server", type=click.Path(exists=True, dir_okay=False))
@click.argument("client", type=click.Path(exists=True, dir_okay=False))
@click.option("--port", type=click.IntRange(1, 65535), default=20000, show_default=True,
              help="The server's port (both programs get --host and --port).")  # fmt: skip
@click.option("--server-args", default="", help="More arguments for the server program (one string, shell words).")
@click.option("--client-args", default="", help="More arguments for the client program (one string, shell words).")
@_common
def run_programs(
    server: str,
    client: str,
    port: int,
    server_args: str,
    client_args: str,
    lang: str,
    write: str | None,
    color: bool | None,
    verbose: bool,
) -> None:
    """Run your own SERVER and CLIENT programs (Python) the way the labs run theirs, and tell the story.

    The server runs in the server's namespace as `python3 SERVER --host 10.99.0.1 --port PORT`, the client in the
    client's as `python3 CLIENT --host 10.99.0.1 --port PORT`; when SERVER and CLIENT are the same file, it gets
    `server` or `client` first (as the labs' two-role programs do). Start from `tcptrace lab NAME --show-code`.
    """
    from .runner import custom_lab

    row = custom_lab(server, client, port, shlex.split(server_args), shlex.split(client_args))
    _run(row, lang, write, color, verbose)
