"""Settings built once at the command line and passed down (never read from globals), and the
one place a `serve` becomes a supervised server, for the dashboard and headless mode alike."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.launch import LaunchSpec
from engine.redact import Redactor
from engine.tunnel import TOKEN_ENV
from tui.commands.errors import UsageError

if TYPE_CHECKING:  # `vllm-top --help` imports this module: it must not load psutil
    from engine.session import Listener, SupervisedSession


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
    vllm_args: tuple[str, ...]  # without --api-key: the keys are in api_keys
    keep_server: bool = False
    api_keys: tuple[str, ...] = ()  # vLLM's --api-key values, or $VLLM_API_KEY
    share: bool = False
    generated_key: bool = False  # made up for --share, to be shown once
    debug: bool = False

    @property
    def api_key(self) -> str | None:
        """The key vllm-top's own requests (bursts, /v1/models) send."""
        return self.api_keys[0] if self.api_keys else None

    @property
    def base_url(self) -> str:
        return LaunchSpec(model="", host=self.host, port=self.port).base_url

    @property
    def ngrok_token(self) -> str | None:
        return os.environ.get(TOKEN_ENV) or None

    def redactor(self) -> Redactor:
        return Redactor([*self.api_keys, self.ngrok_token])

    @classmethod
    def from_args(cls, args: argparse.Namespace, vllm_args: tuple[str, ...]) -> ServeSettings:
        rest, keys = split_api_keys(vllm_args)
        if not keys and os.environ.get("VLLM_API_KEY"):
            keys = (os.environ["VLLM_API_KEY"],)
        share = getattr(args, "share", False)
        generated = share and not keys
        if generated:
            from engine.share import generate_api_key

            keys = (generate_api_key(),)
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
            vllm_args=rest,
            keep_server=getattr(args, "keep_server", False),
            api_keys=keys,
            share=share,
            generated_key=generated,
            debug=getattr(args, "debug", False),
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
        if self.share and not self.ngrok_token:
            raise UsageError(
                f"--share needs an ngrok token in ${TOKEN_ENV} "
                "(it is never taken from the command line)"
            )
        check_python_has_vllm(self.python)
        check_port_free(self.host, self.port)


def api_key_from(args: argparse.Namespace) -> str | None:
    """--api-key, else $OPENAI_API_KEY (better: a command line is readable with ps)."""
    return getattr(args, "api_key", None) or os.environ.get("OPENAI_API_KEY") or None


def split_api_keys(args: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Take vLLM's `--api-key K [K ...]` / `--api-key=K` out of its arguments: (rest, keys)."""
    rest: list[str] = []
    keys: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--api-key="):
            keys.append(arg.split("=", 1)[1])
        elif arg == "--api-key":
            while i + 1 < len(args) and not args[i + 1].startswith("-"):
                i += 1
                keys.append(args[i])
        else:
            rest.append(arg)
        i += 1
    return tuple(rest), tuple(keys)


def build_launch_spec(settings: ServeSettings, say: Callable[[str], None] = print) -> LaunchSpec:
    """The command line of the server `serve` asks for (building the demo model if needed)."""
    if settings.demo:
        from engine.demo import DemoBuildError, demo_launch_spec, ensure_demo_model

        say("[vllm-top] preparing the demo model")
        try:
            model_dir = ensure_demo_model(settings.python)
        except DemoBuildError as exc:
            raise UsageError(str(exc)) from None
        spec = demo_launch_spec(
            settings.python, model_dir, settings.host, settings.port, settings.vllm_args
        )
    else:
        assert settings.model is not None
        spec = LaunchSpec(
            model=settings.model,
            python=settings.python,
            host=settings.host,
            port=settings.port,
            extra_args=settings.vllm_args,
        )
    return spec.with_api_keys(settings.api_keys)


def supervised_session(
    settings: ServeSettings, listener: Listener | None = None, say: Callable[[str], None] = print
) -> SupervisedSession:
    """The server `serve` asks for, with every serve option applied, whatever shows it."""
    from engine.session import SupervisedSession

    return SupervisedSession(
        build_launch_spec(settings, say),
        log_dir=settings.log_dir,
        listener=listener,
        api_key=settings.api_key,
        keep_on_exit=settings.keep_server,
        redact=settings.redactor(),
        startup_timeout=settings.startup_timeout,
        stop_grace=settings.stop_grace,
    )


def _looks_like_path(model: str) -> bool:
    # Hugging Face ids are "org/name"; paths start with /, ., ~ or exist on disk.
    return model.startswith(("/", ".", "~")) or model.count("/") > 1


def check_python_has_vllm(python: str) -> None:
    probe = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('vllm') else 3)"
    try:
        # -I: the current directory is not searched, so a stray ./vllm folder (vLLM's cache,
        # when XDG_CACHE_HOME is empty) cannot pass for the package.
        done = subprocess.run([python, "-I", "-c", probe], capture_output=True, timeout=60)
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


def check_attach_target(url: str, api_key: str | None, timeout: float = 5.0) -> None:
    """Attach only to something that answers like vLLM, with a key it accepts."""
    import urllib.parse

    from engine.health import Health, probe_health
    from engine.http import get
    from engine.urls import normalize_base_url

    base = normalize_base_url(url)
    parts = urllib.parse.urlsplit(base)
    if not parts.hostname:
        raise UsageError(f"{url!r} is not a server URL (e.g. http://127.0.0.1:8000)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise UsageError(f"{url!r} has an invalid port") from None
    probe = probe_health(base, timeout)
    if probe.health is Health.STARTING:
        raise UsageError(
            f"nothing answers at {base} (is the server running? `vllm-top serve` starts one)"
        )
    if probe.health is Health.UNEXPECTED:
        raise UsageError(f"{base}/health answered HTTP {probe.status}: not a vLLM server?")
    # A hung server (no answer in time) is attached to: the dashboard says it is unresponsive.
    if api_key and get(base + "/v1/models", api_key, timeout).status == 401:
        raise UsageError(f"{base} refused the API key (401 Unauthorized on /v1/models)")
