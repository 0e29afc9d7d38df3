"""A watchdog that stops what vllm-top started if vllm-top dies without doing it.

The parent-death signal (engine.supervisor) only reaches vLLM's API server, and only with
SIGTERM: an engine core whose API server was killed too fast, or an ngrok agent, would
survive a SIGKILLed vllm-top. So a small process, in a session of its own (a hang-up or a
Ctrl-C of the terminal does not reach it), reads a pipe whose only writer is vllm-top. Lines
tell it what to watch:

    session <sid>             every process of that session (vLLM's server leads its own)
    process <pid> <started>   one process, identified by pid and start time (pids are reused)
    release <sid|pid>         stop watching it (vllm-top stopped it, or --keep-server)

End of file means vllm-top is gone, whatever killed it: what is still watched gets SIGTERM,
then SIGKILL after the grace period. A clean exit releases everything first, so the reaper
then has nothing to do. The file runs as a script (`python engine/reaper.py`) so that it
starts in milliseconds and needs nothing from vllm-top's packages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO

GRACE_S = 10.0


def _session_members(sid: int) -> list[int]:
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        with contextlib.suppress(OSError):
            if pid != os.getpid() and os.getsid(pid) == sid:
                members.append(pid)
    return members


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: start time in clock ticks since boot."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True  # gone
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"Z", b"X")


def _targets(sessions: set[int], processes: dict[int, str]) -> list[int]:
    pids = {pid for sid in sessions for pid in _session_members(sid)}
    pids |= {pid for pid, started in processes.items() if _start_time(pid) == started}
    return sorted(pid for pid in pids if not _is_zombie(pid))


def reap(sessions: set[int], processes: dict[int, str], grace: float = GRACE_S) -> list[int]:
    """SIGTERM every watched process, SIGKILL what is left after `grace`; return the pids hit."""
    hit = _targets(sessions, processes)
    for pid in hit:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _targets(sessions, processes):
        time.sleep(0.1)
    for pid in _targets(sessions, processes):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return hit


def serve(commands: IO[str], grace: float = GRACE_S) -> list[int]:
    """Read commands until end of file, then reap what is still watched."""
    sessions: set[int] = set()
    processes: dict[int, str] = {}
    for line in commands:
        verb, _, rest = line.strip().partition(" ")
        args = rest.split()
        if verb == "session" and args:
            sessions.add(int(args[0]))
        elif verb == "process" and len(args) == 2:
            processes[int(args[0])] = args[1]
        elif verb == "release" and args:
            sessions.discard(int(args[0]))
            processes.pop(int(args[0]), None)
    return reap(sessions, processes, grace)


class Reaper:
    """vllm-top's side: start the watchdog once, then tell it what to watch."""

    def __init__(self, grace: float = GRACE_S) -> None:
        self._grace = grace
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", os.path.abspath(__file__), str(self._grace)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
            assert self._proc.stdin is not None
            with contextlib.suppress(OSError):  # a dead reaper must not take vllm-top down
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()

    def watch_session(self, sid: int) -> None:
        self._send(f"session {sid}")

    def watch_process(self, pid: int) -> None:
        started = _start_time(pid)
        if started is not None:
            self._send(f"process {pid} {started}")

    def release(self, pid: int) -> None:
        if self._proc is not None:
            self._send(f"release {pid}")

    def close(self) -> None:
        """End of file: the reaper stops what is still watched and exits (for tests)."""
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                self._proc.stdin.close()


_shared: Reaper | None = None


def shared_reaper() -> Reaper:
    """One watchdog per vllm-top process, started the first time something is watched."""
    global _shared
    if _shared is None:
        _shared = Reaper()
    return _shared


def main() -> None:  # pragma: no cover - runs as the watchdog process
    # Signals meant for the terminal's processes (Ctrl-C, a hang-up) are not for the reaper.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    grace = float(sys.argv[1]) if len(sys.argv) > 1 else GRACE_S
    serve(sys.stdin, grace)


if __name__ == "__main__":
    main()
