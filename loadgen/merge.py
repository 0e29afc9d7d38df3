"""One run out of its workers' streams of raw records: one time axis, each worker's share, and
what was lost with a worker that died. Worker processes (loadgen.process) and Ray actors
(loadgen.ray_workers) both report through it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from loadgen.config import LoadConfig
from loadgen.record import RequestRecord
from loadgen.stats import ClientHealth


@dataclass
class WorkerShare:
    """What one worker sent and how its client fared."""

    worker: int
    where: str  # "this machine", or a Ray node
    planned: int | None  # requests its shard of the plan holds (None: bounded by a duration)
    requests: int = 0
    succeeded: int = 0
    output_tokens: int = 0
    first_sent: float | None = None
    last_end: float | None = None
    client: ClientHealth | None = None
    lost: int | None = None  # set when the worker died: requests it never returned
    error: str | None = None

    @property
    def delivered_rps(self) -> float | None:
        """Requests it completed per second of its own run."""
        if self.first_sent is None or self.last_end is None or self.last_end <= self.first_sent:
            return None
        return self.succeeded / (self.last_end - self.first_sent)

    def describe_loss(self) -> str:
        lost = "" if self.lost is None else f", {self.lost} requests lost"
        return f"worker {self.worker + 1} ({self.where}) failed: {self.error}{lost}"

    def to_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker + 1,
            "where": self.where,
            "requests": self.requests,
            "succeeded": self.succeeded,
            "output_tokens": self.output_tokens,
            "delivered_rps": self.delivered_rps,
            "client": asdict(self.client) if self.client is not None else None,
            "lost": self.lost,
            "error": self.error,
        }


def planned_requests(shard: LoadConfig) -> int | None:
    """How many requests a shard sends when the run is bounded by a count (in closed form:
    a run may hold a hundred million)."""
    units = shard.units
    if units is None or shard.requests is None or shard.duration is not None:
        return None
    mine = len(range(shard.shard, units, shard.processes))
    planned = mine * shard.turns
    last = units - 1
    if last >= shard.shard and (last - shard.shard) % shard.processes == 0:
        planned -= units * shard.turns - shard.requests  # the last conversation, cut short
    return planned


def merged_health(health: list[ClientHealth]) -> ClientHealth:
    """The client's health over all workers: CPU adds up (cores used), lag is the worst
    worker's, and CLIENT-BOUND names the workers that were."""
    if len(health) == 1:
        return health[0]
    reasons = [f"worker {i + 1}: {h.reason}" for i, h in enumerate(health) if h.bound]
    return ClientHealth(
        cpu_fraction=sum(h.cpu_fraction for h in health),
        loop_lag_p99_ms=max(h.loop_lag_p99_ms for h in health),
        loop_lag_max_ms=max(h.loop_lag_max_ms for h in health),
        bound=bool(reasons),
        reason="; ".join(reasons) or None,
    )


@dataclass
class Merger:
    shards: list[LoadConfig]
    where: list[str]
    records: list[RequestRecord] = field(default_factory=list)
    succeeded: int = 0
    t0_monotonic: float | None = None  # the run's time 0 (the first worker's)
    shares: list[WorkerShare] = field(init=False)
    _t0: dict[int, float] = field(default_factory=dict)
    _ended: dict[int, bool] = field(default_factory=dict)  # worker -> cancelled

    def __post_init__(self) -> None:
        self.shares = [
            WorkerShare(w, self.where[w], planned_requests(s)) for w, s in enumerate(self.shards)
        ]

    def started(self, worker: int, t0_monotonic: float) -> None:
        if self.t0_monotonic is None:
            self.t0_monotonic = t0_monotonic
        self._t0.setdefault(worker, t0_monotonic)

    def batch(self, worker: int, records: list[RequestRecord]) -> None:
        """Records of one worker, moved from its time 0 onto the run's."""
        shift = self._t0.get(worker, 0.0) - (self.t0_monotonic or 0.0)
        share = self.shares[worker]
        for record in records:
            record.shift(shift)
            share.requests += 1
            if record.ok:
                share.succeeded += 1
                self.succeeded += 1
                share.output_tokens += record.output_tokens or 0
            if share.first_sent is None or record.sent < share.first_sent:
                share.first_sent = record.sent
            if record.end is not None and (share.last_end is None or record.end > share.last_end):
                share.last_end = record.end
        self.records.extend(records)

    def ended(self, worker: int, client: ClientHealth, cancelled: bool) -> None:
        self.shares[worker].client = client
        self._ended[worker] = cancelled

    def lose(self, worker: int, error: str) -> None:
        share = self.shares[worker]
        if worker in self._ended or share.error is not None:
            return
        share.error = error
        share.lost = None if share.planned is None else max(0, share.planned - share.requests)

    def settled(self, worker: int) -> bool:
        return worker in self._ended or self.shares[worker].error is not None

    @property
    def done(self) -> bool:
        return all(self.settled(w) for w in range(len(self.shards)))

    @property
    def losses(self) -> list[WorkerShare]:
        return [s for s in self.shares if s.error is not None]

    @property
    def client(self) -> ClientHealth | None:
        """Over every worker that finished (None while any runs, or when none finished)."""
        health = [s.client for s in self.shares if s.client is not None]
        return merged_health(health) if self.done and health else None

    @property
    def cancelled(self) -> bool:
        return any(self._ended.values())

    @property
    def failed(self) -> str | None:
        """Why the run failed as a whole: every worker failed."""
        if self.done and not self._ended:
            return "; ".join(s.error or "?" for s in self.shares)
        return None
