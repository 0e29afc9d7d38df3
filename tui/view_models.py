"""What each panel shows, as plain frozen data, computed by pure functions from the domain.

The one adapter between engine/loadgen and the widgets (nvitop's tui/library): widgets import
these types and draw them, and never hold a live engine object (an import-linter contract keeps
tui.widgets off engine and loadgen). Everything here is testable without a screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.device_sampler import DeviceSample
from engine.events import ServerState
from engine.metrics_history import MetricsHistory
from engine.node_watch import NodesReport
from engine.session import Session
from engine.startup import Phase
from engine.statsline import StatsLine
from tui.format import count, duration, gib, percent
from tui.server_figures import Identity, ServerFigures

_STYLE = {
    ServerState.READY: "bold green",
    ServerState.STARTING: "bold yellow",
    ServerState.DEAD: "bold red",
    ServerState.UNRESPONSIVE: "bold red",
    ServerState.EXITED: "bold red",
    ServerState.UNREACHABLE: "bold red",
    ServerState.UNKNOWN: "bold yellow",
    ServerState.STOPPING: "yellow",
    ServerState.STOPPED: "dim",
    ServerState.NOT_STARTED: "dim",
}
# States in which the status line says what is wrong, and the last errors.
TROUBLE = (
    ServerState.DEAD,
    ServerState.UNREACHABLE,
    ServerState.UNKNOWN,
    ServerState.UNRESPONSIVE,
    ServerState.EXITED,
    ServerState.STOPPED,
    ServerState.NOT_STARTED,
)
RESTART_HINT = "  (r restarts, e shows the last error)"


# ---- status line -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusView:
    state: str  # "READY"
    style: str  # the state's rich style
    phase: str | None  # while starting: "loading weights (12.3s)"
    model: str | None
    url: str
    version: str | None
    uptime: str | None  # while ready
    api_key_set: bool
    supervised: bool
    tunnel_url: str | None = None
    detail: str | None = None  # e.g. the exit code and cause
    errors: tuple[str, ...] = ()  # the last distinct error lines of a dead server


def status_view(
    session: Session, identity: Identity, now: float, tunnel_url: str | None = None
) -> StatusView:
    state = session.state
    tracker = session.tracker
    phase = None
    if tracker is not None and state is ServerState.STARTING:
        phase = f"{tracker.phase.label} ({duration(tracker.elapsed())})"
    uptime = None
    if state is ServerState.READY:
        ready_at = tracker.entered_at.get(Phase.READY) if tracker is not None else None
        since = ready_at if ready_at is not None else session.started_at
        if since is not None and (ready_at is not None or not session.supervised):
            uptime = duration(now - since)
    detail = session.detail if state in TROUBLE else None
    if detail and session.supervised and state is not ServerState.UNRESPONSIVE:
        detail += RESTART_HINT
    version = identity.version or (tracker.facts.version if tracker is not None else None)
    return StatusView(
        state=state.value.upper(),
        style=_STYLE.get(state, ""),
        phase=phase,
        model=session.model,
        url=session.base_url,
        version=version,
        uptime=uptime,
        api_key_set=session.api_key is not None,
        supervised=session.supervised,
        tunnel_url=tunnel_url,
        detail=detail,
        errors=session.errors if state in TROUBLE else (),
    )


# ---- start-up ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseRow:
    label: str
    status: Literal["done", "now", "later"]
    took: str | None  # "12.3s", once reached


@dataclass(frozen=True)
class StartupView:
    phases: tuple[PhaseRow, ...] = ()  # while starting
    elapsed: str | None = None
    summary: tuple[str, ...] = ()  # after: "KV 2,048 tokens", "engine init 3.1s", ...


def startup_view(
    session: Session, capacity_tokens: int | None, max_model_len: int | None
) -> StartupView:
    tracker = session.tracker
    state = session.state
    if tracker is not None and state in (ServerState.STARTING, ServerState.NOT_STARTED):
        durations = tracker.durations()
        rows = []
        for phase in Phase:
            if phase is Phase.LAUNCHING:
                continue
            status: Literal["done", "now", "later"] = (
                "done" if phase < tracker.phase else "now" if phase == tracker.phase else "later"
            )
            took = durations.get(phase)
            rows.append(PhaseRow(phase.label, status, duration(took) if took is not None else None))
        return StartupView(phases=tuple(rows), elapsed=duration(tracker.elapsed()))
    facts = tracker.facts if tracker is not None else None
    ready_at = tracker.entered_at.get(Phase.READY) if tracker is not None else None
    kv = facts.kv_cache_tokens if facts and facts.kv_cache_tokens else capacity_tokens
    parts = [f"KV {count(kv)} tokens"]
    if facts and facts.max_concurrency is not None:
        parts.append(
            f"max concurrency {facts.max_concurrency:.2f}x "
            f"@ {count(facts.max_concurrency_tokens)} tok"
        )
    elif max_model_len:
        parts.append(f"max model len {max_model_len:,}")
    if facts and facts.init_engine_s is not None:
        parts.append(f"engine init {facts.init_engine_s:.1f}s")
    if facts and facts.weights_load_s is not None:
        parts.append(f"weights {facts.weights_load_s:.2f}s")
    if tracker is not None and ready_at is not None:
        parts.append(f"ready after {duration(ready_at - tracker.started_at)}")
    return StartupView(summary=tuple(parts))


# ---- KV cache & scheduler ----------------------------------------------------------------------


@dataclass(frozen=True)
class KvView:
    notes: tuple[str, ...] = ()  # "unknown: why", above everything
    waiting_for_data: bool = False  # nothing to show yet
    usage: float | None = None  # drawn as a bar
    full: bool = False  # 95% or more
    usage_text: str = ""  # "100%  2,048 / 2,048 tok"
    queue_text: str = ""  # "running 15  waiting 35  preempted 70"
    recent_preemptions: str | None = None  # "(+12/10s)"
    prefix_text: str = ""
    footer: str | None = None  # where the figures came from, when not /metrics
    from_log: bool = False
    sparks: tuple[tuple[str, tuple[float, ...]], ...] = field(default=())


SPARK_SECONDS = 120.0
SPARK_POINTS = 60


def kv_view(history: MetricsHistory, unavailable: str | None, from_log: StatsLine | None) -> KvView:
    """`from_log`: vLLM's periodic stats line, shown when /metrics has no vLLM series."""
    latest = history.latest
    notes = (f"unknown: {unavailable}",) if unavailable else ()
    if from_log is not None and (latest is None or not latest.has_vllm_series):
        return KvView(
            notes=notes,
            usage=from_log.kv_usage,
            usage_text=f"{percent(from_log.kv_usage)}  (tokens unknown)",
            queue_text=f"running {count(from_log.running)}  waiting {count(from_log.waiting)}"
            f"  preempted {count(from_log.preemptions)}",
            prefix_text=f"prefix cache hits {percent(from_log.prefix_hit_rate, 1)}",
            footer="from the log's stats line: /metrics has no vllm:* series",
            from_log=True,
        )
    if latest is None:
        return KvView(notes=notes, waiting_for_data=True)
    usage = latest.kv_usage
    recent = history.increase("preemptions", 10.0)
    sparks = tuple(
        (name, tuple(v for _, v in history.series(value, SPARK_SECONDS) if v is not None))
        for name, value in (
            ("kv", lambda s: s.kv_usage),
            ("running", lambda s: s.total("running")),
            ("waiting", lambda s: s.total("waiting")),
        )
    )
    return KvView(
        notes=notes,
        usage=usage,
        full=usage is not None and usage >= 0.95,
        usage_text=f"{percent(usage)}  {count(latest.kv_used_tokens)} / "
        f"{count(latest.kv_capacity_tokens)} tok",
        queue_text=f"running {count(latest.total('running'))}  "
        f"waiting {count(latest.total('waiting'))}  "
        f"preempted {count(latest.total('preemptions'))}",
        recent_preemptions=f"(+{recent:.0f}/10s)" if recent else None,
        prefix_text=f"prefix cache hits {percent(latest.prefix_cache_hit_rate, 1)}",
        footer=None if latest.has_vllm_series else "no vllm:* series (--disable-log-stats?)",
        sparks=tuple((name, points[-SPARK_POINTS:] or (0.0,)) for name, points in sparks),
    )


# ---- device ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuView:
    title: str  # "GPU0 NVIDIA H200"
    memory_fraction: float | None  # drawn as a bar
    memory: str  # "12.3 GiB / 139.8 GiB"
    stats: str  # "util 45%  61°C  300/700 W"


@dataclass(frozen=True)
class DeviceView:
    sampled: bool = False
    gpus: tuple[GpuView, ...] = ()
    no_gpu: str | None = None  # why there is no GPU reading
    tree: str | None = None  # "vLLM tree: CPU 97%  RSS 1.9 GiB" (None: not visible)
    tree_gpu: str | None = None  # "  GPU 12.3 GiB"
    processes: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()  # with a Ray cluster watched: a line per node


def device_view(sample: DeviceSample | None) -> DeviceView:
    if sample is None:
        return DeviceView()
    gpus = []
    for gpu in sample.gpus:
        used, total = gpu.memory_used_bytes, gpu.memory_total_bytes
        util = "?" if gpu.utilization_percent is None else f"{gpu.utilization_percent}%"
        temp = "?" if gpu.temperature_c is None else f"{gpu.temperature_c}°C"
        power = "?" if gpu.power_w is None else f"{gpu.power_w:.0f}"
        limit = "?" if gpu.power_limit_w is None else f"{gpu.power_limit_w:.0f}"
        gpus.append(
            GpuView(
                title=f"GPU{gpu.index} {gpu.name or '?'}",
                memory_fraction=used / total if used is not None and total else None,
                memory=f"{gib(used)} / {gib(total)}",
                stats=f"util {util}  {temp}  {power}/{limit} W",
            )
        )
    tree = sample.tree
    tree_text = processes = tree_gpu = None
    if tree is not None:
        cpu = "?" if tree.cpu_percent is None else f"{tree.cpu_percent:.0f}%"
        tree_text = f"vLLM tree: CPU {cpu}  RSS {gib(tree.rss_bytes)}"
        tree_gpu = None if tree.gpu_bytes is None else f"  GPU {gib(tree.gpu_bytes)}"
        processes = tuple(
            f" {p.role[:22]:<22} {'?' if p.cpu_percent is None else f'{p.cpu_percent:.0f}%':>5}"
            f" {gib(p.rss_bytes)}" + ("" if p.gpu_bytes is None else f" GPU {gib(p.gpu_bytes)}")
            for p in tree.processes
        )
    return DeviceView(
        sampled=True,
        gpus=tuple(gpus),
        no_gpu=None if sample.gpu_available else f"{sample.gpu_reason or 'no GPU'}: CPU backend",
        tree=tree_text,
        tree_gpu=tree_gpu,
        processes=processes or (),
        nodes=node_lines(sample.nodes) if sample.nodes is not None else (),
    )


def node_lines(report: NodesReport) -> tuple[str, ...]:
    """`serve --ray`: every node of the cluster in a line: its GPUs and vLLM processes."""
    if report.error is not None:
        return (f"Ray nodes: {report.error}",)
    lines = [f"Ray nodes: {len(report.nodes)}"]
    for node in report.nodes:
        if node.lost is not None:
            lines.append(f" {node.host}: lost ({node.lost})")
            continue
        used = sum(g.memory_used_bytes or 0 for g in node.gpus)
        total = sum(g.memory_total_bytes or 0 for g in node.gpus)
        gpus = f"{len(node.gpus)} GPU {gib(used)}/{gib(total)}" if node.gpus else node.gpu_status
        lines.append(f" {node.host}: {gpus}; vLLM processes {len(node.processes)}")
    return tuple(lines)


# ---- everything the refresh draws --------------------------------------------------------------


@dataclass(frozen=True)
class PanelsView:
    status: StatusView
    startup: StartupView
    kv: KvView
    device: DeviceView


def panels_view(
    session: Session,
    figures: ServerFigures,
    device: DeviceSample | None,
    now: float,
    tunnel_url: str | None,
) -> PanelsView:
    latest = figures.history.latest
    capacity = latest.kv_capacity_tokens if latest is not None else None
    return PanelsView(
        status=status_view(session, figures.identity, now, tunnel_url),
        startup=startup_view(session, capacity, figures.identity.max_model_len),
        kv=kv_view(figures.history, figures.metrics_error, figures.stats_line),
        device=device_view(device),
    )
