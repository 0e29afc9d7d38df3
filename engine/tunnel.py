"""A public URL for a local port, through ngrok (pyngrok), and what to say when there is none.

The ngrok token comes from $NGROK_AUTHTOKEN only. pyngrok would pass it to the agent as
`--authtoken TOKEN`, readable by anyone in the process list; instead it goes into a private
(0600) agent config file that lives as long as the tunnel. pyngrok's own download progress and
log records are kept off the terminal (the dashboard owns it).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `vllm-top --help` reads TOKEN_ENV: keep this module's import cheap
    import tempfile

    from engine.reaper import Reaper

TOKEN_ENV = "NGROK_AUTHTOKEN"


class TunnelError(Exception):
    """The tunnel could not be opened: one line, with what to do instead."""


def ssh_hint(port: int) -> str:
    return f"ssh -L {port}:127.0.0.1:{port} <this host>  (then use http://127.0.0.1:{port}/v1)"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class NgrokTunnel:
    def __init__(self, token: str, reaper: Reaper | None = None, startup_timeout: int = 15):
        self._token = token
        self._reaper = reaper
        self._startup_timeout = startup_timeout
        self._config: Any = None
        self._config_dir: tempfile.TemporaryDirectory[str] | None = None
        self.public_url: str | None = None
        self._pid: int | None = None

    def open(self, port: int) -> str:
        """Tunnel https://<random>.ngrok-free.app to 127.0.0.1:port; return the public URL."""
        import logging
        import tempfile

        try:
            from pyngrok import conf, installer, ngrok
            from pyngrok.exception import PyngrokError, PyngrokNgrokInstallError
        except ImportError as exc:  # pragma: no cover - a dependency of vllm-top
            raise TunnelError(f"pyngrok is not installed ({exc})") from None
        logging.getLogger("pyngrok").propagate = False
        installer._print_progress_enabled = False  # its progress goes to stdout: the screen
        self._config_dir = tempfile.TemporaryDirectory(prefix="vllm-top-ngrok-")
        config_file = Path(self._config_dir.name) / "ngrok.yml"
        fd = os.open(config_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'version: "3"\nagent:\n  authtoken: {self._token}\n')
        self._config = conf.PyngrokConfig(
            config_path=str(config_file),
            startup_timeout=self._startup_timeout,
            start_new_session=True,  # a hang-up of our terminal is ours to handle, not ngrok's
        )
        self._config.auth_token = None  # never `--authtoken TOKEN` on a command line
        try:
            tunnel = ngrok.connect(f"127.0.0.1:{port}", "http", pyngrok_config=self._config)
        except PyngrokNgrokInstallError as exc:
            self.close()
            raise TunnelError(
                f"ngrok could not be downloaded (no network?): {_first_line(exc)}"
            ) from None
        except PyngrokError as exc:
            self.close()
            raise TunnelError(f"ngrok could not open a tunnel: {_first_line(exc)}") from None
        except OSError as exc:
            self.close()
            raise TunnelError(f"ngrok could not start: {_first_line(exc)}") from None
        self._pid = ngrok.get_ngrok_process(self._config).proc.pid
        if self._reaper is not None:
            self._reaper.watch_process(self._pid)
        url = tunnel.public_url or ""
        self.public_url = url.replace("http://", "https://", 1)
        return self.public_url

    def close(self) -> None:
        if self._config is not None:
            from pyngrok import ngrok

            # Killing the agent closes its tunnels. Only if running: it never starts one.
            with contextlib.suppress(Exception):  # closing must not fail a quit
                ngrok.kill(self._config)
            if self._reaper is not None and self._pid is not None:
                self._reaper.release(self._pid)
        if self._config_dir is not None:
            self._config_dir.cleanup()
            self._config_dir = None
        self._config = None
        self._pid = None
        self.public_url = None
