"""Start the dashboard: `vllm-top serve` (supervised) and `vllm-top attach` (watch only)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.session import AttachedSession, SupervisedSession
from tui.config import load_ui_config
from tui.settings import ServeSettings, build_launch_spec


def run_dashboard_serve(settings: ServeSettings, config_file: str | None) -> int:
    ui = load_ui_config(Path(config_file) if config_file else None)
    spec = build_launch_spec(settings)
    session = SupervisedSession(spec, log_dir=settings.log_dir, keep_on_exit=settings.keep_server)
    from tui.app import CockpitApp

    app = CockpitApp(session, ui, keep_server=settings.keep_server)
    code = app.run()
    if settings.keep_server and session.pid is not None:
        print(f"vllm-top: vLLM keeps running (pid {session.pid}) at {session.base_url}/v1")
        print(f"vllm-top: its log goes on in {session.log_path}")
    return code or 0


def run_dashboard_attach(url: str, api_key: str | None, config_file: str | None) -> int:
    ui = load_ui_config(Path(config_file) if config_file else None)
    session = AttachedSession(url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or None)
    from tui.app import CockpitApp

    return CockpitApp(session, ui).run() or 0
