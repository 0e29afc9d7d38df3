"""What an idle dashboard no longer redoes every second (bench/dashboard_budget.py measures the
whole): /metrics parsed again only when its series moved, flat charts and flat sparklines not
drawn again."""

from __future__ import annotations

from engine.metrics import MetricsReader, parse_metrics
from engine.metrics_history import MetricsHistory
from tests.helpers import FIXTURES
from tui.load_views import chart_data
from tui.widgets.kv_panel import _looks_the_same

IDLE = (FIXTURES / "metrics-vllm-0.32-cpu-idle.txt").read_text()
BUSY = (FIXTURES / "metrics-vllm-0.32-cpu-busy.txt").read_text()


def test_the_same_series_are_not_parsed_twice() -> None:
    reader = MetricsReader()
    first = reader.parse(IDLE, 1.0)
    # Only the process series moved (as every second on an idle server).
    again = reader.parse(
        IDLE.replace("process_cpu_seconds_total", "process_cpu_seconds_total"), 2.0
    )
    assert again.at == 2.0 and again.engines is first.engines
    busy = reader.parse(BUSY, 3.0)
    assert busy.engines is not first.engines
    assert busy == parse_metrics(BUSY, 3.0)


def test_charts_of_an_idle_server_are_flat_and_a_busy_one_is_not() -> None:
    idle = MetricsHistory()
    for t in range(0, 60, 2):
        idle.add(parse_metrics(IDLE, float(t)))
    assert chart_data(idle, [], 58.0, 60.0).flat
    busy = MetricsHistory()
    busy.add(parse_metrics(IDLE, 0.0))
    busy.add(parse_metrics(BUSY, 5.0))
    assert not chart_data(busy, [], 5.0, 60.0).flat


def test_a_flat_sparkline_looks_the_same_at_any_length() -> None:
    assert _looks_the_same([0.0] * 5, (0.0,) * 6)
    assert not _looks_the_same([0.0] * 5, (0.0, 1.0))
    assert not _looks_the_same([], (0.0,))
