"""Where vllm-top keeps its files (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var, "")
    # The spec says relative paths are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / default


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "vllm-top"


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache") / "vllm-top"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "vllm-top"


def default_log_dir() -> Path:
    return state_dir() / "logs"
