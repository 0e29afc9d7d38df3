"""Settings built once at the command line and passed down (never read from globals)."""

from __future__ import annotations

import argparse
import errno
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.launch import LaunchSpec


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""


@dataclass(frozen=True)
class ServeSettings:
    model: str | None
    demo: bool
    headless: bool
    host: str
    port: int
    python: str
    log_dir: Path | None
    startup_timeout: float
    stop_grace: float
    vllm_args: tuple[str, ...]
    keep_server: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, vllm_args: tuple[str, ...]) -> ServeSettings:
        return cls(
            model=args.model,
            demo=args.demo,
            headless=args.headless,
            host=args.host,
            port=args.port,
            python=args.python,
            log_dir=Path(args.log_dir).expanduser() if args.log_dir else None,
            startup_timeout=args.startup_timeout,
            stop_grace=args.stop_grace,
            vllm_args=vllm_args,
            keep_server=getattr(args, "keep_server", False),
        )

    def validate(self) -> None:
        """Catch what would otherwise cost a minute of vLLM start-up and a traceback."""
        if self.demo and self.model:
            raise UsageError("give a MODEL or --demo, not both")
        if not self.demo and not self.model:
            raise UsageError("give a MODEL to serve, or --demo for the embedded demo model")
        if (
            self.model
            and _looks_like_path(self.model)
            and not Path(self.model).expanduser().exists()
        ):
            raise UsageError(f"model path {self.model} does not exist")
        check_python_has_vllm(self.python)
        check_port_free(self.host, self.port)


def build_launch_spec(settings: ServeSettings, say: Callable[[str], None] = print) -> LaunchSpec:
    """The command line of the server `serve` asks for (building the demo model if needed)."""
    if settings.demo:
        from engine.demo import DemoBuildError, demo_launch_spec, ensure_demo_model

        say("[vllm-top] preparing the demo model")
        try:
            model_dir = ensure_demo_model(settings.python)
        except DemoBuildError as exc:
            raise UsageError(str(exc)) from None
        return demo_launch_spec(
            settings.python, model_dir, settings.host, settings.port, settings.vllm_args
        )
    assert settings.model is not None
    return LaunchSpec(
        model=settings.model,
        python=settings.python,
        host=settings.host,
        port=settings.port,
        extra_args=settings.vllm_args,
    )


def _looks_like_path(model: str) -> bool:
    # Hugging Face ids are "org/name"; paths start with /, ., ~ or exist on disk.
    return model.startswith(("/", ".", "~")) or model.count("/") > 1


def check_python_has_vllm(python: str) -> None:
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('vllm') else 3)"
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, timeout=60)
    except FileNotFoundError:
        raise UsageError(f"--python {python}: no such interpreter") from None
    except PermissionError:
        raise UsageError(f"--python {python}: not executable") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"--python {python}: did not answer within 60 s") from None
    if done.returncode == 3:
        raise UsageError(
            f"--python {python} has no vllm installed "
            '(pip install "vllm-top[gpu]" or "vllm-top[cpu]")'
        )
    if done.returncode != 0:
        raise UsageError(f"--python {python} does not run (exit code {done.returncode})")


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Like uvicorn, allow reuse of a port in TIME_WAIT: only a live listener is a conflict.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} on {host} is already in use") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise UsageError(f"--host {host} is not an address of this machine") from None
            raise UsageError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
