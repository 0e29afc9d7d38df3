"""The fleet screen's view models: one row per endpoint and, under a server with several
engines (data parallelism: an `engine` label on every series), one row per engine.

Arithmetic across engines is MetricsSample's: counts and counters add up, histograms merge
bucket by bucket before a percentile is taken, KV usage is never summed (the endpoint shows
the mean over its engines and the fullest one). Windowed figures cover the last WINDOW_S.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.events import ServerState
from engine.fleet_file import FleetMember
from engine.fleet_watch import FleetReport
from engine.gpu_exporters import ExportedGpus
from engine.metrics_history import MetricsHistory
from engine.node_observers import NodeReport
from engine.node_watch import NodesReport
from tui.format import UNKNOWN, count, percent
from tui.server_figures import ServerFigures

WINDOW_S = 10.0
RETAIN_S = 60.0
SORT_KEYS = ("name", "kv", "waiting", "ttft", "tokens")


@dataclass(frozen=True)
class FleetRow:
    """One line of the table, already text; `key` is the endpoint (and engine) it stands for."""

    key: str
    endpoint: str
    engine: str | None  # None: the endpoint's own row
    cells: tuple[str, ...]
    sort_values: dict[str, float]


COLUMNS = (
    "Endpoint", "State", "KV %", "Run", "Wait", "TTFT p50/p95", "Gen tok/s", "Preempt",
    "GPU mem", "KV tokens", "Model", "vLLM",
)  # fmt: skip
# Fixed widths, so columns do not jump as figures change every second (the endpoint's is its
# longest name's, the model's its longest value's).
WIDTHS = (None, 14, 11, 4, 4, 13, 9, 7, 16, 13, 20, 8)


class EndpointFigures:
    """What the cockpit knows of one endpoint, from its watcher's rounds (UI thread only)."""

    def __init__(self, member: FleetMember) -> None:
        self.member = member
        self.figures = ServerFigures(RETAIN_S)
        self.state = ServerState.STARTING
        self.detail: str | None = None
        self.model: str | None = None
        self.gpus: ExportedGpus | None = None
        self.gpu_error: str | None = None

    def take(self, fleet_report: FleetReport) -> None:
        report = fleet_report.report
        self.figures.take(report)
        self.state = report.state
        self.detail = fleet_report.detail or report.metrics_error
        self.model = fleet_report.model or self.model
        self.gpus, self.gpu_error = fleet_report.gpus, fleet_report.gpu_error


class FleetFigures:
    def __init__(self, members: Sequence[FleetMember]) -> None:
        self.endpoints = {m.name: EndpointFigures(m) for m in members}
        self.nodes: NodesReport | None = None  # with --ray: the newest round of the observers

    def node_rows(self) -> list[FleetRow]:
        if self.nodes is None:
            return []
        return [_node_row(n) for n in self.nodes.nodes]

    def take(self, fleet_report: FleetReport) -> None:
        self.endpoints[fleet_report.member.name].take(fleet_report)

    def rows(self, sort_key: str = "name") -> list[FleetRow]:
        """Endpoints sorted (largest first, but by name), each followed by its engines."""
        groups = [_endpoint_rows(e) for e in self.endpoints.values()]
        if sort_key == "name":
            groups.sort(key=lambda g: g[0].endpoint)
        else:
            groups.sort(key=lambda g: (-g[0].sort_values.get(sort_key, -1.0), g[0].endpoint))
        return [row for group in groups for row in group]

    def detail(self, name: str) -> str:
        """The line under the table for the selected endpoint: where it is and why it fails."""
        e = self.endpoints[name]
        parts = [e.member.base_url + "/v1", f"model {e.model or UNKNOWN}"]
        if e.detail:
            parts.append(e.detail)
        if e.gpu_error:
            parts.append(e.gpu_error)
        return " | ".join(parts)


NODE_COLUMNS = ("Node", "State", "GPUs", "GPU mem", "GPU util", "vLLM processes", "RSS")
NODE_WIDTHS = (28, 6, 14, 16, 8, 40, 10)


def _node_row(node: NodeReport) -> FleetRow:
    label = f"{node.host} ({node.node_id[:6]})"
    if node.lost is not None:
        cells = (label, "lost", "", "", "", node.lost, "")
        return FleetRow(node.node_id, node.host, None, cells, {})
    gpus = node.gpus
    if gpus:
        names = {g.name or "GPU" for g in gpus}
        what = f"{len(gpus)} x {names.pop()}" if len(names) == 1 else f"{len(gpus)} GPUs"
        used = sum(g.memory_used_bytes or 0 for g in gpus)
        total = sum(g.memory_total_bytes or 0 for g in gpus)
        memory = f"{used / 2**30:.0f}/{total / 2**30:.0f} GiB"
        utils = [g.utilization_percent for g in gpus if g.utilization_percent is not None]
        util = f"{sum(utils) / len(utils):.0f}%" if utils else UNKNOWN
    else:
        what, memory, util = node.gpu_status, "", ""
    roles = sorted({p.role.removeprefix("VLLM::") for p in node.processes})
    processes = f"{len(node.processes)}: {', '.join(roles)}" if node.processes else "none"
    rss = sum(p.rss_bytes or 0 for p in node.processes)
    cells = (label, "ok", what, memory, util, processes, f"{rss / 2**30:.1f} GiB")
    return FleetRow(node.node_id, node.host, None, cells, {})


def _endpoint_rows(e: EndpointFigures) -> list[FleetRow]:
    history = e.figures.history
    latest = history.latest
    name = e.member.name
    engines = sorted(latest.engines) if latest is not None and latest.has_vllm_series else []
    kv = _kv_text(history)
    main = _row(name, None, _state_text(e), history, kv)
    identity = (e.model or UNKNOWN, e.figures.identity.version or UNKNOWN)
    cells = (*main.cells, _gpu_text(e), _kv_tokens(history), *identity)
    rows = [FleetRow(name, name, None, cells, main.sort_values)]
    if len(engines) > 1:
        per_engine = {engine: history.of_engine(engine, WINDOW_S) for engine in engines}
        busiest, idlest = _extremes(per_engine)
        for engine, part in per_engine.items():
            mark = {busiest: "▲ busiest", idlest: "▼ idlest"}.get(engine, "engine")
            row = _row(name, engine, mark, part, _kv_text(part))
            blank = ("",) * (len(COLUMNS) - len(row.cells))
            rows.append(FleetRow(row.key, name, engine, (*row.cells, *blank), row.sort_values))
    return rows


def _row(name: str, engine: str | None, state: str, history: MetricsHistory, kv: str) -> FleetRow:
    latest = history.latest
    running = latest.total("running") if latest else None
    waiting = latest.total("waiting") if latest else None
    ttft = history.histogram_window("ttft", WINDOW_S)  # merged once, read twice
    p50 = ttft.quantile(0.5) if ttft is not None else None
    p95 = ttft.quantile(0.95) if ttft is not None else None
    preempted = history.increase("preemptions", WINDOW_S)
    tokens = history.rate("generation_tokens", WINDOW_S)
    label = f" └ {engine}" if engine is not None else name
    cells = (
        label,
        state,
        kv,
        count(running),
        count(waiting),
        _ttft_text(history, p50, p95),
        UNKNOWN if tokens is None else f"{tokens:,.1f}",
        count(preempted),
    )
    sort_values = {
        "kv": (latest.kv_usage or 0.0) if latest else -1.0,
        "waiting": waiting if waiting is not None else -1.0,
        "ttft": p95 if p95 is not None else -1.0,
        "tokens": tokens if tokens is not None else -1.0,
    }
    key = name if engine is None else f"{name}/{engine}"
    return FleetRow(key, name, engine, cells, sort_values)


def _state_text(e: EndpointFigures) -> str:
    """The state, or why the endpoint fails, short enough for the row (the line under the
    table has the whole reason)."""
    state, detail = e.state, e.detail or ""
    if state is ServerState.UNREACHABLE:
        return "no answer"
    if state is ServerState.UNKNOWN:
        code = detail.split("HTTP ")[1].split(":")[0] if "HTTP " in detail else "?"
        return f"not vLLM ({code})"
    if state is ServerState.UNRESPONSIVE:
        return "hung"
    if state is ServerState.DEAD:
        return "engine dead"
    if state is ServerState.READY and e.figures.history.latest is None and detail:
        return "ready, no metrics"
    return str(state.value)


def _kv_text(history: MetricsHistory) -> str:
    latest = history.latest
    if latest is None:
        return UNKNOWN
    usages = [u for e in latest.engines.values() if (u := e.kv_usage) is not None]
    if len(usages) > 1:  # a mean and the fullest engine: a sum could pass 100%
        return f"{percent(sum(usages) / len(usages))} max {percent(max(usages))}"
    return percent(latest.kv_usage)


def _ttft_text(history: MetricsHistory, p50: float | None, p95: float | None) -> str:
    if p50 is None or p95 is None:
        # No first token in the window: an idle server, or too few samples yet to say.
        return "idle" if len(history) >= 2 else UNKNOWN
    return f"{p50 * 1000:,.0f}/{p95 * 1000:,.0f} ms"


def _kv_tokens(history: MetricsHistory) -> str:
    latest = history.latest
    if latest is None:
        return UNKNOWN
    used, cap = latest.kv_used_tokens, latest.kv_capacity_tokens
    return f"{count(used)}/{count(cap)}"


def _gpu_text(e: EndpointFigures) -> str:
    if e.gpus is None:
        if e.gpu_error is not None and e.gpu_error.startswith("no GPU"):
            return "no GPU"  # this machine's NVML: none here
        return "no exporter" if e.member.gpu_metrics_url is None else UNKNOWN
    used = [g.memory_used_bytes for _, g in e.gpus.gpus if g.memory_used_bytes is not None]
    total = [g.memory_total_bytes for _, g in e.gpus.gpus if g.memory_total_bytes is not None]
    if not used:
        return "no GPU"
    return f"{sum(used) / 2**30:.0f}/{sum(total) / 2**30:.0f} GiB ({len(used)})"


def _extremes(per_engine: dict[str, MetricsHistory]) -> tuple[str | None, str | None]:
    """The busiest and idlest engine by KV usage then waiting; None when they are level."""

    def load(history: MetricsHistory) -> tuple[float, float]:
        latest = history.latest
        if latest is None:
            return (0.0, 0.0)
        return (latest.kv_usage or 0.0, latest.total("waiting") or 0.0)

    ranked = sorted(per_engine, key=lambda engine: load(per_engine[engine]))
    if len(ranked) < 2 or load(per_engine[ranked[0]]) == load(per_engine[ranked[-1]]):
        return None, None
    return ranked[-1], ranked[0]
