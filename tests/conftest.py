"""One real vLLM (the embedded demo model) per test session, started by our supervisor."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engine.demo import demo_launch_spec, ensure_demo_model
from engine.events import ServerState
from engine.supervisor import Supervisor
from tests.helpers import free_port

STARTUP_TIMEOUT_S = 300


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_demo_model(sys.executable, root=tmp_path_factory.mktemp("demo-cache"))


@pytest.fixture(scope="session")
def demo_server(
    demo_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Supervisor]:
    spec = demo_launch_spec(sys.executable, demo_model_dir, port=free_port())
    sup = Supervisor(spec, log_dir=tmp_path_factory.mktemp("demo-logs"))
    sup.start()
    state = sup.wait_ready(STARTUP_TIMEOUT_S)
    if state is not ServerState.READY:
        report = sup.stop(5)
        pytest.fail(f"demo vLLM did not become ready ({state.value}): {report.describe()}")
    yield sup
    tree = [psutil.Process(sup.pid), *psutil.Process(sup.pid).children(recursive=True)]
    report = sup.stop()
    assert report.stopped_by_us
    # The whole tree is gone: API server, engine core, workers.
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
