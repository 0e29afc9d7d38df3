"""What traffic a load sends: one spec shared by `vllm-top bench`, the cockpit's burst form, its
presets and the config file.

- input and output lengths, each a number or a range `lo:hi` (uniform, seeded);
- a shared leading part of the prompt (`prefix_len` tokens, in `prefix_groups` groups), which
  prefix caching can reuse;
- conversations of `turns` turns whose history grows, with `think_time` between turns;
- or prompts from a local ShareGPT-format dataset (JSON or JSON lines; never downloaded).

Nothing here talks to a server: loadgen.prompts turns a spec into exact prompts.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.config import ConfigError


@dataclass(frozen=True)
class Span:
    """A length: a fixed number, or a range drawn from uniformly."""

    lo: int
    hi: int

    @classmethod
    def parse(cls, text: str | int, name: str) -> Span:
        """`512` or `512:2048`; ConfigError in one line otherwise."""
        raw = str(text).strip()
        lo_text, sep, hi_text = raw.partition(":")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if sep else lo
        except ValueError:
            raise ConfigError(
                f"{name} takes a number or a range like 512:2048, not {raw!r}"
            ) from None
        if lo <= 0 or hi < lo:
            raise ConfigError(f"{name} must be positive, and a range low:high, not {raw!r}")
        return cls(lo, hi)

    def draw(self, rng: random.Random) -> int:
        return self.lo if self.lo == self.hi else rng.randint(self.lo, self.hi)

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}:{self.hi}"


@dataclass(frozen=True)
class DatasetEntry:
    """One conversation of a dataset: the user's turns, and the first reply's length in
    characters (its tokens are counted by the server when it can)."""

    user_turns: tuple[str, ...]
    first_reply: str


@dataclass(frozen=True)
class Workload:
    input_len: Span | None = None
    output_len: Span | None = None
    prefix_len: int = 0
    prefix_groups: int = 1
    turns: int = 1
    think_time: float = 0.0
    dataset: Path | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.prefix_len < 0 or self.prefix_groups < 1:
            raise ConfigError("--prefix-len must be 0 or more and --prefix-groups at least 1")
        if self.turns < 1:
            raise ConfigError("--turns must be at least 1")
        if self.think_time < 0:
            raise ConfigError("--think-time must be 0 or more seconds")
        if self.dataset is not None and self.input_len is not None:
            raise ConfigError("give --input-len or --dataset, not both")
        if self.prefix_len and self.input_len is None and self.dataset is None:
            raise ConfigError("--prefix-len needs --input-len (the prefix is part of the prompt)")
        if self.input_len is not None and self.prefix_len >= self.input_len.lo:
            raise ConfigError(
                f"--prefix-len {self.prefix_len} leaves nothing of --input-len {self.input_len} "
                "to tell the requests apart"
            )

    @property
    def shaped(self) -> bool:
        """Whether anything here replaces the plain prompt of a burst."""
        return (
            self.input_len is not None
            or self.output_len is not None
            or self.dataset is not None
            or self.turns > 1
        )

    def describe(self) -> str:
        parts = []
        if self.dataset is not None:
            parts.append(f"dataset {self.dataset.name}")
        if self.input_len is not None:
            parts.append(f"in {self.input_len}")
        if self.output_len is not None:
            parts.append(f"out {self.output_len}")
        if self.prefix_len:
            groups = f" x{self.prefix_groups}" if self.prefix_groups > 1 else ""
            parts.append(f"prefix {self.prefix_len}{groups}")
        if self.turns > 1:
            think = f", think {self.think_time:g}s" if self.think_time else ""
            parts.append(f"{self.turns} turns{think}")
        return ", ".join(parts)

    def to_json(self, lengths_exact: bool | None) -> dict[str, Any]:
        return {
            "input_len": str(self.input_len) if self.input_len else None,
            "output_len": str(self.output_len) if self.output_len else None,
            "output_forced": self.output_len is not None,
            "prefix_len": self.prefix_len,
            "prefix_groups": self.prefix_groups,
            "turns": self.turns,
            "think_time_s": self.think_time,
            "dataset": str(self.dataset) if self.dataset else None,
            "seed": self.seed,
            "lengths_exact": lengths_exact,
        }


def load_dataset(path: Path) -> list[DatasetEntry]:
    """ShareGPT-format conversations (a JSON list, or JSON lines): `conversations` of
    `{"from": "human"|"gpt", "value": ...}`, or `messages` of `{"role", "content"}`.
    ConfigError in one line for a file that is missing, empty or of another shape."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"dataset {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read dataset {path}: {exc}") from None
    if not text.strip():
        raise ConfigError(f"dataset {path} is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ConfigError(f"dataset {path} is neither JSON nor JSON lines: {exc}") from None
    rows = data if isinstance(data, list) else [data]
    entries = [e for e in (_entry(row) for row in rows) if e is not None]
    if not entries:
        raise ConfigError(
            f"dataset {path} has no conversation of a user turn and a reply "
            '(ShareGPT: [{"conversations": [{"from": "human", ...}, {"from": "gpt", ...}]}])'
        )
    return entries


_USER = {"human", "user"}
_ASSISTANT = {"gpt", "assistant", "chatgpt", "bard", "model"}


def _entry(row: Any) -> DatasetEntry | None:
    if not isinstance(row, dict):
        return None
    turns = row.get("conversations", row.get("messages"))
    if not isinstance(turns, list):
        return None
    users: list[str] = []
    reply: str | None = None
    for turn in turns:
        if not isinstance(turn, dict):
            return None
        who = str(turn.get("from", turn.get("role", ""))).lower()
        what = turn.get("value", turn.get("content"))
        if not isinstance(what, str) or not what.strip():
            continue
        if who in _USER:
            users.append(what)
        elif who in _ASSISTANT and users and reply is None:
            reply = what
    if not users or reply is None:
        return None
    return DatasetEntry(tuple(users), reply)
