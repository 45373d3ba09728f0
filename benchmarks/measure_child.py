"""Run one command and record its wall time, CPU time and peak RSS (used by bench.py).

    python -I -S benchmarks/measure_child.py RESULT_FILE COMMAND [ARG ...]

Why a separate, fresh interpreter: on Linux a child's ``ru_maxrss`` starts from the
resident size of the process image it was forked from (the kernel keeps the larger of
the pre-exec and post-exec high-water marks).  Spawned straight from bench.py, every tool
would report at least bench.py's own RSS.  This launcher is a small interpreter started
with ``-I -S`` that forks (a copy of only its own few MB) and execs the command, then
reads that one child's rusage from ``os.wait4``.  The timer starts right before the fork,
so interpreter start-up is not counted either.

RESULT_FILE receives one line: ``wall_seconds cpu_seconds maxrss_kib exit_code``.  The
command inherits stdin/stdout/stderr; the launcher's exit code is the command's.  SIGTERM
to the launcher kills the command (which is then reaped and reported as usual).
"""

import os
import signal
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        os.write(2, b"usage: measure_child.py RESULT_FILE COMMAND [ARG ...]\n")
        return 2
    result_path, command = argv[0], argv[1:]
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            os.write(2, f"{command[0]}: {exc}\n".encode())
        os._exit(127)
    # On SIGTERM (bench.py's timeout) kill the command, then reap it as usual.
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    with open(result_path, "w") as fh:
        fh.write(f"{elapsed!r} {usage.ru_utime + usage.ru_stime!r} {usage.ru_maxrss} {code}\n")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
