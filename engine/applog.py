"""vllm-top's own log: what it did and what went wrong inside it, for a bug report.

A rotating file under the state directory (~/.local/state/vllm-top/vllm-top.log): state
changes, swallowed errors with their tracebacks, NVML calls that fail (once each), workers that
fail, bursts started and finished. INFO by default, DEBUG with --debug. Secrets are masked as in
every other output. Never the terminal: the dashboard owns it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Callable
from pathlib import Path

from engine.paths import state_dir

OUR_LOGGERS = ("engine", "loadgen", "tui")
FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
MAX_BYTES = 5 * 2**20
BACKUPS = 2


def log_path() -> Path:
    return state_dir() / "vllm-top.log"


class _Masking(logging.Filter):
    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        # Format first, then mask the whole message, traceback included.
        record.msg = self._redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def setup(redact: Callable[[str], str], debug: bool = False, path: Path | None = None) -> Path:
    """Send our loggers (and others' warnings) to the file; return its path."""
    path = path or log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_Masking(redact))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "vllm_top", False)]:
        root.removeHandler(old)
        old.close()
    handler.vllm_top = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.INFO)
    logging.getLogger("engine").info("vllm-top started (pid %d)", os.getpid())
    return path
