"""--startup-timeout means the same in the dashboard and headless: the server is stopped and the
reason shown (it used to be honoured by `serve --headless` only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.events import ServerState
from tests.helpers import free_port
from tests.test_app_pilot import wait_for
from tests.test_headless_cli import _vllm_top
from tui.app import CockpitApp
from tui.commands.dashboard_config import UiConfig
from tui.commands.settings import ServeSettings, supervised_session

NEVER_READY = f"""#!{sys.executable}
import sys, time
if "-c" in sys.argv:  # vllm-top's "has this interpreter vLLM?" probe
    sys.exit(0)
print("(APIServer pid=1) INFO 12-02 10:00:00 [api_utils.py:1] loading forever", flush=True)
time.sleep(600)
"""


def _never_ready(tmp_path: Path) -> str:
    script = tmp_path / "python"
    script.write_text(NEVER_READY)
    script.chmod(0o755)
    return str(script)


def test_headless_gives_up_after_the_startup_timeout(tmp_path: Path) -> None:
    done = subprocess.run(
        [_vllm_top(), "serve", "org/model", "--headless", "--python", _never_ready(tmp_path),
         "--port", str(free_port()), "--startup-timeout", "2", "--stop-grace", "2",
         "--log-dir", str(tmp_path / "logs")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    first = done.stderr.splitlines()[0]
    assert first == (
        "vllm-top: vLLM failed before it was ready: vLLM was not ready after 2s "
        "(last phase: launching); stopped it"
    )
    assert "loading forever" in done.stdout


async def test_the_dashboard_gives_up_after_the_startup_timeout_and_says_so(
    tmp_path: Path,
) -> None:
    settings = ServeSettings(
        model="org/model", demo=False, headless=False, host="127.0.0.1", port=free_port(),
        python=_never_ready(tmp_path), log_dir=tmp_path / "logs", startup_timeout=1.0,
        stop_grace=2.0, vllm_args=(),
    )  # fmt: skip
    session = supervised_session(settings, say=lambda _: None)
    app = CockpitApp(session, UiConfig(refresh_interval=0.2))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            assert await wait_for(pilot, lambda: session.state is ServerState.STOPPED, 20)
            status = str(app.query_one("#status").render())
            assert await wait_for(
                pilot, lambda: "not ready after 1s" in str(app.query_one("#status").render()), 5
            ), status
            assert "STOPPED" in str(app.query_one("#status").render())
            await pilot.press("q")
    finally:
        session.stop(2)
