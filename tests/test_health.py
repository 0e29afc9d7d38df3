"""/health probes against real sockets, and the one rule each for supervised and attached servers
that turns probes into states (so the dashboard, headless and snapshot agree on a hung server)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from engine.events import ServerState
from engine.health import (
    Health,
    Probe,
    attached_state,
    probe_health,
    silence,
    supervised_transition,
)
from tests.helpers import free_port

READY, SILENT, DEAD = Probe(Health.READY, 200), Probe(Health.SILENT, None), Probe(Health.DEAD, 503)
REFUSED = Probe(Health.STARTING, None)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Takes connections and reads requests, and never answers: a stopped or deadlocked server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_is_silent_not_starting(silent_server: str) -> None:
    started = time.monotonic()
    assert probe_health(silent_server, timeout=0.5) == (Health.SILENT, None)
    assert 0.4 <= time.monotonic() - started < 2.0


def test_a_refused_connection_is_starting() -> None:
    assert probe_health(f"http://127.0.0.1:{free_port()}", timeout=0.5) == (Health.STARTING, None)


@pytest.mark.parametrize(
    ("current", "probe", "expected"),
    [
        (ServerState.STARTING, REFUSED, None),  # not listening yet
        (ServerState.STARTING, SILENT, None),  # only a server that was ready can hang
        (ServerState.STARTING, READY, ServerState.READY),
        (ServerState.READY, SILENT, ServerState.UNRESPONSIVE),
        (ServerState.UNRESPONSIVE, SILENT, None),
        (ServerState.UNRESPONSIVE, READY, ServerState.READY),  # answers again: ready again
        (ServerState.UNRESPONSIVE, DEAD, ServerState.DEAD),
        (ServerState.READY, DEAD, ServerState.DEAD),
        (ServerState.DEAD, DEAD, None),
        (ServerState.READY, REFUSED, None),  # its exit is seen on the process, not here
    ],
)
def test_supervised_transitions(
    current: ServerState, probe: Probe, expected: ServerState | None
) -> None:
    assert supervised_transition(current, probe) is expected


def test_attached_states_say_why() -> None:
    url = "http://h:1"
    assert attached_state(SILENT, url) == (ServerState.UNRESPONSIVE, None)
    assert attached_state(REFUSED, url)[0] is ServerState.UNREACHABLE
    assert attached_state(Probe(Health.UNEXPECTED, 404), url) == (
        ServerState.UNKNOWN,
        "/health answered HTTP 404: not a vLLM server?",
    )
    assert attached_state(READY, url) == (ServerState.READY, None)
    assert attached_state(DEAD, url)[0] is ServerState.DEAD
    assert silence(6.2) == "no answer to /health for 6 s"
