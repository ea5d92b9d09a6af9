"""What a cluster node runs beside Ray so that `ray down` leaves nothing running.

    python -m studies.run.cluster_node follow --head HOST:PORT --pid-file F -- COMMAND...
    python -m studies.run.cluster_node stop --pid-file F

With Ray's `local` provider (cluster-local.yaml), `ray down` runs `ray stop`
on the head only: a worker's raylet exits once it cannot reach the head, but
other Ray processes of the worker (its log monitor) stay. `follow` waits until
the head's Ray (its GCS at HOST:PORT) has stopped answering for a few checks
in a row, runs COMMAND (`ray stop` on a worker) and exits; the worker start
commands run it in the background beside Ray. On AWS the node is terminated
first, so it never acts there. `stop` ends a `follow` (or the tracking
server's `serve`, studies.run.cluster_tracking) whose pid a file holds, and waits
until it is gone: a restart starts a fresh one.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def head_answers(address: str) -> bool:
    """Whether something accepts a TCP connection at HOST:PORT (the head's GCS)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def follow(address: str, command: list[str], pid_file: Path, every: float = 2.0, misses: int = 5) -> int:
    """Wait until the head stops answering `misses` checks in a row, then run command; its exit code."""
    pid_file.write_text(f"{os.getpid()}\n")
    missed = 0
    while missed < misses:
        time.sleep(every)
        missed = 0 if head_answers(address) else missed + 1
    print(f"cluster_node follow: the head at {address} stopped answering; running {' '.join(command)}", flush=True)
    return subprocess.run(command).returncode


def stop(pid_file: Path, timeout: float = 60.0) -> int:
    """SIGTERM the studies.run.cluster_* process whose pid pid_file holds and wait until it has exited; 0 also
    when there is no such file or process (a pid reused by another program is left alone)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, IndexError):
        return 0
    if not any(part.startswith(b"studies.run.cluster_") for part in cmdline):
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return 0
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    return 0 if not alive(pid) else 1


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.run.cluster_node", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("follow", help="run `-- COMMAND...` once the head's Ray at --head stops answering")
    run.add_argument("--head", required=True, metavar="HOST:PORT")
    run.add_argument("--pid-file", required=True)
    run.add_argument("command", nargs=argparse.REMAINDER)
    halt = sub.add_parser("stop", help="end the studies.run.cluster_* process whose pid --pid-file holds, and wait")
    halt.add_argument("--pid-file", required=True)
    args = parser.parse_args(argv)
    pid_file = Path(args.pid_file).expanduser()
    if args.verb == "stop":
        return stop(pid_file)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("follow needs a command after --")
    return follow(args.head, command, pid_file)


if __name__ == "__main__":
    sys.exit(main())
