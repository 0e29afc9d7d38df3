"""What each panel shows, computed without a screen (tui.view_models), from real captures."""

from __future__ import annotations

from engine.device_sampler import DeviceSample
from engine.events import ServerState
from engine.gpu import GpuProcess, GpuSample
from engine.metrics import parse_metrics
from engine.metrics_history import MetricsHistory
from engine.proctree import ProcInfo, TreeSample
from engine.session import AttachedSession
from engine.statsline import parse_stats_line
from loadgen.config import LoadConfig
from loadgen.stats import summarize
from tests.helpers import FIXTURES, FakeClock
from tests.seeded_app import burst_records
from tui.load_views import result_view
from tui.server_figures import Identity
from tui.view_models import device_view, kv_view, startup_view, status_view

IDLE = (FIXTURES / "metrics-vllm-0.32-cpu-idle.txt").read_text()
BUSY = (FIXTURES / "metrics-vllm-0.32-cpu-busy.txt").read_text()


def test_status_of_a_ready_attached_server() -> None:
    clock = FakeClock(1000.0)
    session = AttachedSession("127.0.0.1:8000/v1", clock=clock, state=ServerState.READY)
    session.model = "vllm-top-demo"
    session.started_at = 1000.0 - 754
    view = status_view(session, Identity("0.32.0", 1024), clock())
    assert (view.state, view.style, view.model, view.version) == (
        "READY",
        "bold green",
        "vllm-top-demo",
        "0.32.0",
    )
    assert view.url == "http://127.0.0.1:8000" and view.uptime == "12m34s"
    assert view.detail is None and view.errors == ()


def test_status_of_a_hung_server_says_for_how_long() -> None:
    clock = FakeClock(1000.0)
    session = AttachedSession("http://127.0.0.1:9", clock=clock, state=ServerState.UNRESPONSIVE)
    session.last_answer_at = 994.0
    view = status_view(session, Identity(), clock())
    assert view.state == "UNRESPONSIVE" and view.style == "bold red"
    assert view.detail == "no answer to /health for 6 s"
    assert view.uptime is None


def test_kv_panel_from_a_busy_capture_in_tokens() -> None:
    history = MetricsHistory()
    history.add(parse_metrics(IDLE, 0.0))
    history.add(parse_metrics(BUSY, 5.0))
    view = kv_view(history, None, None)
    assert view.full and view.usage == 1.0
    assert view.usage_text == "100%  2,048 / 2,048 tok"
    assert view.queue_text.startswith("running 15  waiting 35  preempted")
    assert view.recent_preemptions is not None and view.recent_preemptions.startswith("(+")
    assert view.footer is None and dict(view.sparks)["kv"][-1] == 1.0


def test_kv_panel_without_metrics_falls_back_to_the_stats_line_and_says_so() -> None:
    line = next(
        ln
        for ln in (FIXTURES / "statslines-vllm-0.32-cpu.log").read_text().splitlines()
        if "Waiting: 7 reqs" in ln
    )
    view = kv_view(MetricsHistory(), "cannot reach /metrics: x", parse_stats_line(line))
    assert view.notes == ("unknown: cannot reach /metrics: x",)
    assert view.from_log and view.usage_text == "100%  (tokens unknown)"
    assert view.queue_text.startswith("running 11  waiting 7")
    assert view.footer == "from the log's stats line: /metrics has no vllm:* series"
    assert kv_view(MetricsHistory(), None, None).waiting_for_data


def test_device_panel_rows_for_a_gpu_and_the_process_tree() -> None:
    gpu = GpuSample(0, "NVIDIA H200", 70 * 2**30, 140 * 2**30, 45, 61, 300.4, 700.0,
                    (GpuProcess(42, 68 * 2**30),))  # fmt: skip
    tree = TreeSample((ProcInfo(42, "APIServer", 97.0, 2**30, 68 * 2**30),))
    view = device_view(DeviceSample(0.0, True, None, (gpu,), tree))
    [row] = view.gpus
    assert row.title == "GPU0 NVIDIA H200" and row.memory_fraction == 0.5
    assert row.memory == "70.0 GiB / 140.0 GiB" and row.stats == "util 45%  61°C  300/700 W"
    assert view.no_gpu is None and view.tree == "vLLM tree: CPU 97%  RSS 1.0 GiB"
    assert view.tree_gpu == "  GPU 68.0 GiB"
    assert view.processes == (" APIServer                97% 1.0 GiB GPU 68.0 GiB",)
    no_gpu = device_view(DeviceSample(0.0, False, "no GPU: NVML unavailable (x)", (), None))
    assert no_gpu.no_gpu == "no GPU: NVML unavailable (x): CPU backend" and no_gpu.tree is None
    assert not device_view(None).sampled


def test_startup_summary_of_an_attached_server_uses_the_metrics() -> None:
    session = AttachedSession("http://h:1", state=ServerState.READY)
    assert startup_view(session, 2048, 1024).summary == ("KV 2,048 tokens", "max model len 1,024")


def test_a_burst_result_and_its_table_row() -> None:
    summary = summarize(LoadConfig("http://h:1", model="m"), burst_records())
    view = result_view("100 req, c=10, 128 tok", summary)
    assert view.clean and view.requests == 100 and view.first_error is None
    assert view.figures.startswith("100 ok, 0 failed  ")
    assert view.row[0] == "100 req, c=10, 128 tok" and view.row[1] == "100%"
