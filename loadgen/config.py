"""What a load run sends, and how: one immutable object built by the caller."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.urls import normalize_base_url

if TYPE_CHECKING:  # loadgen.workload and loadgen.prompts import ConfigError from here
    from loadgen.prompts import Plan, Turn
    from loadgen.workload import Workload

Endpoint = Literal["completions", "chat"]
Arrival = Literal["constant", "poisson"]

DEFAULT_PROMPT = (
    "Explain how a paged KV cache lets an inference server batch many requests, "
    "and what happens when it runs out of blocks."
)
_PATHS: dict[Endpoint, str] = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}


class ConfigError(ValueError):
    """A load configuration that cannot run (reported in one line, exit code 2)."""


def load_payloads(path: Path) -> tuple[dict[str, Any], ...]:
    """A request body, or a list of bodies used in turn (JSON array or JSON lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"payload file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read payload file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise ConfigError(f"payload file {path} is not JSON: {exc}") from None
    bodies = data if isinstance(data, list) else [data]
    if not bodies or not all(isinstance(b, dict) for b in bodies):
        raise ConfigError(f"payload file {path} must hold a JSON object or a list of objects")
    return tuple(bodies)


@dataclass(frozen=True)
class LoadConfig:
    base_url: str
    endpoint: Endpoint | None = None  # None: from the payload ("messages" -> chat), else chat
    model: str | None = None
    requests: int | None = 100
    concurrency: int | None = 10
    rate: float | None = None  # requests per second; None: as fast as concurrency allows
    arrival: Arrival = "poisson"
    duration: float | None = None  # seconds; stop sending after this
    max_tokens: int | None = 128
    temperature: float | None = None
    prompt: str = DEFAULT_PROMPT
    payloads: tuple[dict[str, Any], ...] = ()
    stream: bool = True
    api_key: str | None = field(default=None, repr=False)
    ignore_eos: bool = False
    stall_timeout: float = 600.0
    connect_timeout: float = 10.0
    seed: int = 0
    workload: Workload | None = None  # shaped traffic: lengths, prefix, turns, dataset
    plan: Plan | None = field(default=None, repr=False)  # its prompts, made by loadgen.prompts
    workers: int | None = 1  # load processes sharing the plan (None: from the cores)
    shard: int = 0  # which of them this config drives: units shard, shard + workers, ...
    ray: str | None = None  # a Ray cluster's address (or auto, local): workers as its actors
    workers_per_node: int = 1  # on Ray, when `workers` is not given

    @property
    def processes(self) -> int:
        return self.workers or 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalize_base_url(self.base_url))
        for name in ("requests", "concurrency", "max_tokens", "workers", "workers_per_node"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be a positive number, not {value}")
        for name in ("rate", "duration", "stall_timeout", "connect_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be greater than 0, not {value}")
        if self.requests is None and self.duration is None:
            raise ConfigError("give a number of requests or a duration")
        if self.rate is None and self.concurrency is None:
            raise ConfigError("give a concurrency, a rate, or both")
        if self.turns > 1 and self.endpoint == "completions":
            raise ConfigError("--turns needs the chat endpoint: a conversation is messages")
        if (
            self.workload is not None
            and self.workload.shaped
            and (self.payloads or self.prompt_set)
        ):
            raise ConfigError("give --prompt/--payload or a workload (--input-len, --dataset...)")

    @property
    def prompt_set(self) -> bool:
        return self.prompt != DEFAULT_PROMPT

    @property
    def turns(self) -> int:
        return self.workload.turns if self.workload is not None else 1

    @property
    def units(self) -> int | None:
        """What the schedule sends: requests, or conversations of `turns` requests."""
        if self.requests is None:
            return None
        return -(-self.requests // self.turns)

    @property
    def resolved_endpoint(self) -> Endpoint:
        if self.endpoint is not None:
            return self.endpoint
        if self.payloads and "prompt" in self.payloads[0] and "messages" not in self.payloads[0]:
            return "completions"
        return "chat"

    @property
    def url(self) -> str:
        return self.base_url + _PATHS[self.resolved_endpoint]

    def body(self, index: int) -> dict[str, Any]:
        """The JSON body of request `index`; explicit settings override the payload's."""
        if self.plan is not None:
            return self.turn_body(self.plan.turn(index), [])
        if self.payloads:
            body = copy.deepcopy(self.payloads[index % len(self.payloads)])
        elif self.resolved_endpoint == "chat":
            body = {"messages": [{"role": "user", "content": self.prompt}]}
        else:
            body = {"prompt": self.prompt}
        return self._finish(body, self.max_tokens, self.ignore_eos)

    def turn_body(self, turn: Turn, history: Sequence[dict[str, str]]) -> dict[str, Any]:
        """A planned request: its prompt (after the conversation so far), its forced length."""
        if self.resolved_endpoint == "chat":
            body: dict[str, Any] = {"messages": [*history, {"role": "user", "content": turn.text}]}
        else:
            body = {"prompt": turn.text}
        max_tokens = turn.max_tokens if turn.max_tokens is not None else self.max_tokens
        forced = self.plan is not None and self.plan.force_output
        return self._finish(body, max_tokens, self.ignore_eos or forced)

    def _finish(
        self, body: dict[str, Any], max_tokens: int | None, ignore_eos: bool
    ) -> dict[str, Any]:
        if self.model is not None or "model" not in body:
            body["model"] = self.model
        if max_tokens is not None:
            body.pop("max_completion_tokens", None)
            body["max_tokens"] = max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if ignore_eos:
            body["ignore_eos"] = True
        body["stream"] = self.stream
        if self.stream:
            # Exact token counts from the server: a chunk is not a token. continuous_usage_stats
            # (a vLLM extension) gives the running count on every chunk.
            options = body.setdefault("stream_options", {})
            options.setdefault("include_usage", True)
            options.setdefault("continuous_usage_stats", True)
        else:
            body.pop("stream_options", None)
        return body

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def describe(self) -> str:
        parts = []
        if self.requests is not None:
            parts.append(f"{self.requests} requests")
        if self.duration is not None:
            parts.append(f"for {self.duration:g} s")
        if self.rate is not None:
            parts.append(f"{self.arrival} arrivals at {self.rate:g} req/s")
        if self.concurrency is not None:
            parts.append(f"concurrency {self.concurrency}")
        if self.workload is not None and self.workload.shaped:
            parts.append(self.workload.describe())
        parts.append("streaming" if self.stream else "not streaming")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "endpoint": self.resolved_endpoint,
            "model": self.model,
            "requests": self.requests,
            "concurrency": self.concurrency,
            "rate": self.rate,
            "arrival": self.arrival if self.rate is not None else None,
            "duration": self.duration,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": self.stream,
            "payloads": len(self.payloads),
            "api_key": "***" if self.api_key else None,
            "ignore_eos": self.ignore_eos,
            "workers": self.workers,
            "ray": self.ray,
        }
