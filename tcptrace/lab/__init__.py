"""``tcptrace lab``: the socket tutorials' experiments, one command each, captured and explained.

:mod:`~tcptrace.lab.labs` is the table of experiments, :mod:`~tcptrace.lab.network` makes the private network,
:mod:`~tcptrace.lab.runner` puts them together with live capture's child and narrator (:mod:`tcptrace.live`:
the story is told while the experiment runs), :mod:`~tcptrace.lab.facts` checks what a lab's story must show,
and :mod:`~tcptrace.lab.cli` is the command group. ``programs/`` holds the client and server programs (also those
``sample_pcaps/record.sh`` uses for the sample captures that are not labs).
"""

from __future__ import annotations

from .labs import BY_NAME, LABS, Fact, Lab, Rule

__all__ = ["BY_NAME", "LABS", "Fact", "Lab", "Rule"]
