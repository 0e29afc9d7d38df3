"""Start the dashboard: `vllm-top serve` (supervised) and `vllm-top attach` (watch only)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from engine.device_sampler import DeviceSampler
from engine.fleet_file import FleetMember
from engine.fleet_watch import FleetWatcher
from engine.node_watch import NodeWatch
from engine.session import AttachedSession
from engine.tunnel import TOKEN_ENV
from tui.app import CockpitApp
from tui.commands.dashboard_config import load_ui_config
from tui.commands.settings import ServeSettings, supervised_session
from tui.commands.sharing import TunnelFactory, ngrok_factory, share_for

# After SIGTERM or SIGHUP, how long Textual's own teardown may take before the process ends
# itself: with the terminal gone, a write to it can leave that teardown waiting forever.
TEARDOWN_LIMIT_S = 10.0


def _tunnels() -> TunnelFactory | None:
    token = os.environ.get(TOKEN_ENV)
    return ngrok_factory(token) if token else None


def run_dashboard_serve(
    settings: ServeSettings, config_file: str | None, ray_address: str | None = None
) -> int:
    ui = load_ui_config(Path(config_file) if config_file else None)
    share = share_for(settings)
    session = supervised_session(settings)
    device = None
    if ray_address:  # the Device panel shows every node of the cluster too
        device = DeviceSampler(
            root_pid=lambda: session.pid,
            interval=max(ui.refresh_interval, 0.5),
            nodes=NodeWatch(ray_address),
        )
    app = CockpitApp(
        session,
        ui,
        share=share,
        key_is_new=settings.generated_key,
        make_tunnel=_tunnels(),
        device_sampler=device,
    )
    stop: Callable[[], None] | None = None
    if not settings.keep_server:

        def stop() -> None:
            report = session.stop(settings.stop_grace)
            if report is not None and report.killed_after_grace:
                _say(f"vllm-top: vLLM did not stop in {settings.stop_grace:g}s; killed")

    try:
        code = _run_with_signals(app, stop, app_share_closer(app))
    finally:
        app_share_closer(app)()  # the public URL never outlives the dashboard
    if stop is not None:
        # However the app ended (q, a signal, an exception), the server does not outlive it.
        _say("vllm-top: stopping vLLM")
        stop()
    elif session.pid is not None:
        _say(f"vllm-top: vLLM keeps running (pid {session.pid}) at {session.base_url}/v1")
        _say(f"vllm-top: its log goes on in {session.log_path}")
    return code or 0


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # the terminal may be gone (SIGHUP)
        print(text, flush=True)


def app_share_closer(app: CockpitApp) -> Callable[[], None]:
    def close() -> None:
        app.sharing.close()

    return close


def _run_with_signals(
    app: CockpitApp, stop_server: Callable[[], None] | None, close_share: Callable[[], None]
) -> int | None:
    """SIGTERM and SIGHUP (the SSH connection dropped) end the app like `q` does.

    The server is stopped (and the public URL closed) at once, beside the app's teardown rather
    than after it, and if that teardown has not ended TEARDOWN_LIMIT_S later the process exits
    anyway: after a hang-up Textual can wait forever on a write to the lost terminal, and a
    vllm-top stuck there must not keep vLLM (and its GPU memory) alive.
    """
    app_done = threading.Event()

    def stop_then_exit(signum: int) -> None:
        close_share()
        if stop_server is not None:
            stop_server()
        if not app_done.wait(TEARDOWN_LIMIT_S):
            os._exit(128 + signum)

    def ended(signum: int, _frame: FrameType | None) -> None:
        app.exit(128 + signum)
        threading.Thread(
            target=stop_then_exit, args=(signum,), name="vllm-top-signal", daemon=True
        ).start()

    previous = {sig: signal.signal(sig, ended) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return app.run()
    finally:
        app_done.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_dashboard_attach(url: str, api_key: str | None, config_file: str | None) -> int:
    ui = load_ui_config(Path(config_file) if config_file else None)
    session = AttachedSession(url, api_key=api_key)
    app = CockpitApp(session, ui, make_tunnel=_tunnels())
    try:
        return _run_with_signals(app, None, app_share_closer(app)) or 0
    finally:
        app_share_closer(app)()


def run_dashboard_fleet(
    members: list[FleetMember], config_file: str | None, ray_address: str | None = None
) -> int:
    ui = load_ui_config(Path(config_file) if config_file else None)
    first = members[0]
    session = AttachedSession(first.base_url, api_key=first.api_key)
    watcher = FleetWatcher(members, interval=max(ui.refresh_interval, 1.0))
    if ray_address:
        watcher.observe_nodes(ray_address)
    app = CockpitApp(session, ui, make_tunnel=_tunnels(), fleet=watcher)
    try:
        return _run_with_signals(app, None, app_share_closer(app)) or 0
    finally:
        watcher.stop()
        app_share_closer(app)()
