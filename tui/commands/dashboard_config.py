"""The dashboard's configuration file: $VLLM_TOP_CONFIG or $XDG_CONFIG_HOME/vllm-top/config.toml.

refresh_interval = 1.0        # seconds between /metrics scrapes and panel refreshes
chart_window = 60             # seconds shown by the charts (w toggles 60 s / 300 s)
ascii = false                 # plain ASCII bars and charts for terminals without Unicode

[default_burst]               # what `b` fires
requests = 100
concurrency = 10
max_tokens = 128

[[presets]]                   # keys 1-9, in order
requests = 20
concurrency = 1

[keymap]                      # binding id = keys (see `?` for the ids)
fire-burst = "space"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.paths import config_dir
from loadgen.config import ConfigError
from loadgen.slo import Slo
from loadgen.workload import Span, Workload
from tui.commands.errors import UsageError


@dataclass(frozen=True)
class BurstPreset:
    requests: int = 100
    concurrency: int = 10
    max_tokens: int = 128
    rate: float | None = None
    endpoint: str = "chat"
    prompt: str | None = None
    payload: str | None = None  # path of a JSON request body
    # The workload, as `vllm-top bench` takes it (loadgen.workload): lengths "N" or "LO:HI".
    input_len: str | None = None
    output_len: str | None = None
    prefix_len: int = 0
    prefix_groups: int = 1
    turns: int = 1
    think_time: float = 0.0
    dataset: str | None = None
    seed: int = 0
    slo: str | None = None  # "ttft=1s,tpot=50ms": the burst's attainment and goodput

    def workload(self) -> Workload:
        """ConfigError in one line when it cannot run."""
        return Workload(
            input_len=Span.parse(self.input_len, "input length") if self.input_len else None,
            output_len=Span.parse(self.output_len, "output length") if self.output_len else None,
            prefix_len=self.prefix_len,
            prefix_groups=self.prefix_groups,
            turns=self.turns,
            think_time=self.think_time,
            dataset=Path(self.dataset).expanduser() if self.dataset else None,
            seed=self.seed,
        )

    def slo_spec(self) -> Slo | None:
        return Slo.parse(self.slo) if self.slo else None

    def describe(self) -> str:
        shape = f"{self.requests} req, c={self.concurrency}"
        if self.rate:
            shape += f", {self.rate:g} req/s"
        workload = self.workload()
        if workload.shaped:
            return f"{shape}, {workload.describe()}"
        return f"{shape}, {self.max_tokens} tok"


DEFAULT_PRESETS: tuple[BurstPreset, ...] = tuple(
    BurstPreset(requests=n, concurrency=c)
    for n, c in [(10, 1), (20, 2), (40, 4), (80, 8), (100, 16), (200, 32), (400, 64),
                 (512, 128), (1024, 256)]
)  # fmt: skip


@dataclass(frozen=True)
class UiConfig:
    refresh_interval: float = 1.0
    chart_window: float = 60.0
    ascii: bool | None = None  # None: decide from the locale and the terminal's encoding
    default_burst: BurstPreset = BurstPreset()
    presets: tuple[BurstPreset, ...] = DEFAULT_PRESETS
    keymap: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


def config_path() -> Path:
    env = os.environ.get("VLLM_TOP_CONFIG")
    return Path(env) if env else config_dir() / "config.toml"


def _preset(data: Any, where: str) -> BurstPreset:
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a table")
    known = set(BurstPreset.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise UsageError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    try:
        preset = BurstPreset(**data)
        preset.workload()
        preset.slo_spec()
    except TypeError as exc:
        raise UsageError(f"{where}: {exc}") from None
    except ConfigError as exc:
        raise UsageError(f"{where}: {exc}") from None
    if preset.requests <= 0 or preset.concurrency <= 0 or preset.max_tokens <= 0:
        raise UsageError(f"{where}: requests, concurrency and max_tokens must be positive")
    return preset


def load_ui_config(path: Path | None = None) -> UiConfig:
    path = path or config_path()
    if not path.exists():
        return UiConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"config file {path}: {exc}") from None
    allowed = {"refresh_interval", "chart_window", "ascii", "default_burst", "presets", "keymap"}
    unknown = set(data) - allowed
    if unknown:
        raise UsageError(f"config file {path}: unknown key {sorted(unknown)[0]!r}")
    refresh = float(data.get("refresh_interval", 1.0))
    if not 0.1 <= refresh <= 60:
        raise UsageError(f"config file {path}: refresh_interval must be within 0.1-60 s")
    presets = data.get("presets")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(isinstance(v, str) for v in keymap.values()):
        raise UsageError(f"config file {path}: [keymap] maps binding ids to key strings")
    return UiConfig(
        refresh_interval=refresh,
        chart_window=float(data.get("chart_window", 60.0)),
        ascii=bool(data["ascii"]) if "ascii" in data else None,
        default_burst=_preset(data.get("default_burst", {}), "[default_burst]"),
        presets=tuple(_preset(p, f"[[presets]] #{i + 1}") for i, p in enumerate(presets))[:9]
        if presets is not None
        else DEFAULT_PRESETS,
        keymap=dict(keymap),
        path=path,
    )
