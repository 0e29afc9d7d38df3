"""The public URL: the gateway in front of the real demo server, and `--share` with no network.

The tunnel here is a loopback stand-in (its public side is the gateway's own port): ngrok cannot
be reached from these machines, which is itself tested below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from bench.terminal import vllm_processes
from engine.share import Share, generate_api_key
from engine.supervisor import Supervisor
from tests.helpers import free_port
from tests.test_headless_cli import _vllm_top


class LoopbackTunnel:
    """A Tunnel whose public URL is the local port itself."""

    def __init__(self) -> None:
        self.closed = False

    def open(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.closed = True


def _get(url: str, key: str | None = None, body: dict[str, object] | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _raw_status(base: str, path: str, key: str, body: dict[str, object]) -> int:
    """POST to `path` exactly as written (no client-side normalisation of the path)."""
    import http.client

    host, port = base.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.vllm
def test_the_gateway_lets_only_v1_through_and_only_with_the_key(demo_server: Supervisor) -> None:
    key = generate_api_key()
    tunnel = LoopbackTunnel()
    share = Share(demo_server.base_url, key, tunnel)
    endpoint = share.open()
    public = endpoint.url.removesuffix("/v1")
    try:
        assert endpoint.url.endswith("/v1") and endpoint.api_key == key
        assert _get(f"{public}/v1/models") == 401
        assert _get(f"{public}/v1/models", "vt-wrong") == 401
        assert _get(f"{public}/v1/models", key) == 200
        # vLLM answers /invocations (SageMaker's generation route) and /metrics to anyone,
        # with or without --api-key; through the gateway they do not exist.
        body = {"model": "vllm-top-demo", "prompt": "Hi", "max_tokens": 2}
        assert _get(f"{demo_server.base_url}/invocations", body=body) == 200
        assert _get(f"{public}/invocations", key, body) == 404
        assert _get(f"{public}/metrics", key) == 404
        assert _get(f"{public}/tokenize", key, {"model": "vllm-top-demo", "prompt": "x"}) == 404
        # Nor can they be reached by walking out of /v1 (an HTTP client would resolve the dot
        # segments on the way to vLLM): the paths go out exactly as written.
        for sneaky in (
            "/v1/../invocations",
            "/v1/%2e%2e/invocations",
            "/v1/..%2finvocations",
            "/v1/./../metrics",
            "/v1//../metrics",
        ):
            assert _raw_status(public, sneaky, key, body) == 404, sneaky

        # A streamed completion arrives through the gateway event by event, usage included.
        request = urllib.request.Request(
            f"{public}/v1/completions",
            data=json.dumps(
                {
                    "model": "vllm-top-demo",
                    "prompt": "Hello",
                    "max_tokens": 8,
                    "ignore_eos": True,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                }
            ).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            events = [ln for ln in response.read().decode().splitlines() if ln.startswith("data:")]
        assert events[-1] == "data: [DONE]"
        usage = json.loads(events[-2].removeprefix("data: "))["usage"]
        assert usage["completion_tokens"] == 8
    finally:
        share.close()
    assert tunnel.closed
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{public}/v1/models", timeout=5)


def _serve_share(tmp_path: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NGROK_AUTHTOKEN", "VLLM_API_KEY")}
    # A user who never ran ngrok: nothing cached, so pyngrok must download the agent.
    env |= {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), **env_extra}
    env["XDG_CACHE_HOME"] = os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    port = free_port()
    done = subprocess.run(
        [_vllm_top(), "serve", "--demo", "--headless", "--share", "--port", str(port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert vllm_processes(port) == [], "vLLM was started although sharing failed"
    return done


def test_share_without_a_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _serve_share(tmp_path, {})
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "NGROK_AUTHTOKEN" in done.stderr and "never taken from the command line" in done.stderr


def test_share_with_no_network_is_one_line_with_the_ssh_alternative(tmp_path: Path) -> None:
    token = "2abcTOKENsecret_xyz0123456789"
    done = _serve_share(tmp_path, {"NGROK_AUTHTOKEN": token})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no public URL: ngrok could not be downloaded (no network?)" in lines[0]
    assert "ssh -L" in lines[0] and "127.0.0.1" in lines[0]
    assert token not in done.stdout + done.stderr
    assert "Downloading ngrok" not in done.stdout  # pyngrok's progress kept off the terminal


def test_the_gateway_refuses_to_exist_without_a_key() -> None:
    from engine.gateway import Gateway

    with pytest.raises(ValueError):
        Gateway("http://127.0.0.1:1", "")


@pytest.mark.vllm
async def test_p_shares_a_keyless_server_by_restarting_it_with_a_generated_key(
    demo_model_dir: Path, tmp_path: Path
) -> None:
    from textual.widgets import Static

    from engine.demo import demo_launch_spec
    from engine.events import ServerState
    from engine.session import SupervisedSession
    from tests.test_app_pilot import wait_for
    from tui.app import CockpitApp
    from tui.commands.dashboard_config import UiConfig
    from tui.screens.modals import ConfirmScreen, ShareScreen

    spec = demo_launch_spec(sys.executable, demo_model_dir, port=free_port())
    session = SupervisedSession(spec, log_dir=tmp_path / "logs")
    tunnels: list[LoopbackTunnel] = []

    def make_tunnel() -> LoopbackTunnel:
        tunnels.append(LoopbackTunnel())
        return tunnels[-1]

    app = CockpitApp(session, UiConfig(refresh_interval=0.5), make_tunnel=make_tunnel)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            assert await wait_for(pilot, lambda: session.state is ServerState.READY, 300)
            first_pid = session.pid
            await pilot.press("p")
            assert isinstance(app.screen, ConfirmScreen)  # no key yet: restart with one?
            await pilot.press("y")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ShareScreen), 300)
            assert session.pid != first_pid and session.state is ServerState.READY
            key = session.api_key
            assert key is not None and len(key) >= 40
            share = app.sharing.share
            assert share is not None and share.endpoint is not None
            url = share.endpoint.url
            shown = "\n".join(app.screen.lines)  # type: ignore[attr-defined]
            assert url in shown and key in shown  # the generated key, shown this once
            await pilot.press("escape")

            public = url.removesuffix("/v1")
            assert _get(f"{public}/v1/models") == 401
            assert _get(f"{public}/v1/models", key) == 200
            # vLLM itself now requires the key on /v1, but still serves /invocations to
            # anyone: the hole the gateway closes.
            assert _get(f"{session.base_url}/v1/models") == 401
            body = {"model": "vllm-top-demo", "prompt": "Hi", "max_tokens": 2}
            assert _get(f"{session.base_url}/invocations", body=body) == 200
            assert _get(f"{public}/invocations", key, body) == 404

            # The key reached vLLM through its environment, not its command line (ps).
            assert session.pid is not None
            assert key not in " ".join(psutil.Process(session.pid).cmdline())
            assert f"VLLM_API_KEY={key}".encode() in Path(
                f"/proc/{session.pid}/environ"
            ).read_bytes().split(b"\0")

            status = str(app.query_one("#status", Static).render())
            assert f"shared: {url}" in status and "key on" in status and key not in status
            await pilot.press("p")  # the URL again, never the key
            assert isinstance(app.screen, ShareScreen)
            assert key not in "\n".join(app.screen.lines)
            await pilot.press("escape")
            await pilot.press("q")
        assert tunnels and tunnels[-1].closed  # quitting closed the public URL
        with pytest.raises(OSError):
            urllib.request.urlopen(f"{public}/v1/models", timeout=5)
        assert session.log_path is not None and key not in session.log_path.read_text()
    finally:
        session.stop(10)
