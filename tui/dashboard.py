"""Start the dashboard: `vllm-top serve` (supervised) and `vllm-top attach` (watch only)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

from engine.session import AttachedSession, SupervisedSession
from engine.tunnel import TOKEN_ENV
from tui.app import CockpitApp
from tui.config import load_ui_config
from tui.headless import share_for
from tui.settings import ServeSettings, build_launch_spec
from tui.sharing import TunnelFactory, ngrok_factory


def _tunnels() -> TunnelFactory | None:
    token = os.environ.get(TOKEN_ENV)
    return ngrok_factory(token) if token else None


def run_dashboard_serve(settings: ServeSettings, config_file: str | None) -> int:
    ui = load_ui_config(Path(config_file) if config_file else None)
    share = share_for(settings)
    spec = build_launch_spec(settings)
    session = SupervisedSession(
        spec,
        log_dir=settings.log_dir,
        keep_on_exit=settings.keep_server,
        api_key=settings.api_key,
        redact=settings.redactor(),
    )
    app = CockpitApp(
        session, ui, share=share, key_is_new=settings.generated_key, make_tunnel=_tunnels()
    )
    try:
        code = _run_with_signals(app)
    finally:
        if app.share is not None:
            app.share.close()  # the public URL never outlives the dashboard
    if not settings.keep_server:
        # However the app ended (q, a signal, an exception), the server does not outlive it.
        print("vllm-top: stopping vLLM", flush=True)
        report = session.stop(settings.stop_grace)
        if report is not None and report.killed_after_grace:
            print(f"vllm-top: vLLM did not stop in {settings.stop_grace:g}s; killed", flush=True)
    elif session.pid is not None:
        print(f"vllm-top: vLLM keeps running (pid {session.pid}) at {session.base_url}/v1")
        print(f"vllm-top: its log goes on in {session.log_path}")
    return code or 0


def _run_with_signals(app: CockpitApp) -> int | None:
    """SIGTERM and SIGHUP (the SSH connection dropped) end the app like `q` does."""

    def ended(signum: int, _frame: FrameType | None) -> None:
        app.exit(128 + signum)

    previous = {sig: signal.signal(sig, ended) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return app.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_dashboard_attach(url: str, api_key: str | None, config_file: str | None) -> int:
    ui = load_ui_config(Path(config_file) if config_file else None)
    session = AttachedSession(url, api_key=api_key)
    app = CockpitApp(session, ui, make_tunnel=_tunnels())
    try:
        return _run_with_signals(app) or 0
    finally:
        if app.share is not None:
            app.share.close()
