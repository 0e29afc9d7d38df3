"""The server's process: spawned in a session of its own, waited on through a pidfd, signalled
as a group, and its whole tree (engine core, workers) remembered so nothing outlives it.

Spawn it from the thread that will watch it for as long as it runs: the parent-death signal
fires when *that thread* ends, so even a SIGKILLed vllm-top leaves no server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
from typing import IO

import psutil

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Ask Linux to SIGTERM the server when the thread that forked it ends; vLLM's SIGTERM
    handler then takes its engine down."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    def __init__(self, argv: list[str], env: dict[str, str], die_with_parent: bool) -> None:
        self.argv = argv
        self.env = env
        self._die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._pidfd: int | None = None
        self._tree: dict[int, float] = {}  # pid -> create_time of every process seen in it

    def spawn(self, out: int | IO[bytes]) -> None:
        """Start it with stdout and stderr going to `out` (subprocess.PIPE: two pipes).
        OSError when it cannot be started."""
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent if self._die_with_parent else None,
        )
        pid = self._proc.pid
        with contextlib.suppress(psutil.Error):
            self._tree[pid] = psutil.Process(pid).create_time()
        with contextlib.suppress(AttributeError, OSError):  # Linux 5.3+
            self._pidfd = os.pidfd_open(pid)

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        assert self._proc is not None, "not spawned"
        return self._proc

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_exit(self, timeout: float) -> None:
        """Sleep until it ends or `timeout` passes: a pidfd is readable at once on exit."""
        if self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)

    def signal_group(self, sig: signal.Signals) -> None:
        # start_new_session made the leader's pid the group id.
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)

    def remember_tree(self) -> None:
        """Note every process below the leader, to be found again after it is gone."""
        if self._proc is None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self._proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self._tree.setdefault(child.pid, child.create_time())

    def alive_tree(self) -> list[psutil.Process]:
        """Processes of the tree still running (empty after a clean stop)."""
        alive = []
        for pid, created in list(self._tree.items()):
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        return alive

    def kill_leftovers(self) -> None:
        """The leader is gone: anything left of its tree is an orphan holding memory."""
        self.remember_tree()
        self.signal_group(signal.SIGKILL)
        for p in self.alive_tree():
            with contextlib.suppress(psutil.Error):
                p.kill()

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
