"""The cockpit's load keys, driven with Pilot against servers whose timings are known
(tests/truth_server.py): `S` searches for the most concurrency meeting an SLO, `M` compares two
bursts, `B` fires a shaped workload judged against an SLO."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static

from engine.events import ServerState
from engine.session import AttachedSession
from tests.test_app_pilot import wait_for
from tests.test_loadgen_truth import start_truth_server
from tui.app import CockpitApp
from tui.commands.dashboard_config import BurstPreset, UiConfig
from tui.screens.load_forms import BurstFormScreen, PickTwoScreen, SearchFormScreen
from tui.screens.modals import ReportScreen
from tui.widgets.burst_table import BurstTable

SMALL = BurstPreset(requests=8, concurrency=4, max_tokens=4)


@pytest.fixture(scope="module")
def growing_ttft() -> Iterator[str]:
    """TTFT = 50 ms + 10 ms per request in progress: a 155 ms target holds up to 10."""
    proc, url = start_truth_server(
        "--ttft", "0.05", "--ttft-per-request", "0.01", "--itl", "0.001", "--tokens", "4"
    )
    yield url
    proc.terminate()
    proc.wait(10)


def cockpit(url: str) -> CockpitApp:
    return CockpitApp(AttachedSession(url), UiConfig(refresh_interval=0.5, default_burst=SMALL))


def text(node: App[int] | Screen[Any], selector: str) -> str:
    return str(node.query_one(selector, Static).render())


async def ready(pilot: Pilot[Any], app: CockpitApp) -> None:
    assert await wait_for(pilot, lambda: app.session.state is ServerState.READY, 20)


def fill(screen: Any, **values: str) -> None:
    for name, value in values.items():
        screen.query_one(f"#{name}", Input).value = value


async def test_s_finds_the_most_concurrency_meeting_the_slo(growing_ttft: str) -> None:
    app = cockpit(growing_ttft)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await pilot.press("S")
        form = app.screen
        assert isinstance(form, SearchFormScreen)
        fill(form, slo="ttft=sometime")
        await pilot.press("enter")
        assert "--slo" in text(form, ".form-error")  # the form stays, says why in one line
        fill(form, slo="ttft=155ms", target="0.9", max_load="32", min_requests="30")
        await pilot.press("enter")
        assert not isinstance(app.screen, SearchFormScreen)
        assert await wait_for(pilot, lambda: not app.bursts_ctl.running, 240)
        search = text(app, "#search-status")
        assert "find-max concurrency, SLO ttft <= 155ms for 90%" in search
        assert "answer: 10 " in search or "answer: 9 " in search, search
        assert "16 fail" in search and "8 pass" in search
        # Every probe ran as a burst: on the charts and in the table.
        table = app.query_one(BurstTable)
        assert table.row_count >= 6 and any("probe c=16" in row[1] for row in table.rows)
        assert len(app.bursts_ctl.bursts) >= 6
        await pilot.press("R")
        assert isinstance(app.screen, ReportScreen)
        assert "Most concurrency meeting the SLO for 90% of requests:" in app.screen.report
        await pilot.press("escape")
        # A second search, cancelled: it says so, and the cockpit is free again.
        await pilot.press("S")
        fill(app.screen, slo="ttft=155ms", max_load="32", min_requests="200")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: len(app.bursts_ctl.bursts) > 6, 30)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: not app.bursts_ctl.running, 30)
        assert "cancelled" in text(app, "#search-status")
        await pilot.press("q")


async def test_m_compares_two_marked_bursts(growing_ttft: str) -> None:
    app = cockpit(growing_ttft)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await pilot.press("M")
        assert any("two finished bursts (0 so far)" in n.message for n in app._notifications)
        await pilot.press("1")  # preset 1: 10 requests, one at a time
        assert await wait_for(pilot, lambda: len(app.bursts_ctl.results) == 1, 60)
        await pilot.press("b")  # 8 requests, 4 at a time: TTFT about 40 ms longer
        assert await wait_for(pilot, lambda: len(app.bursts_ctl.results) == 2, 60)
        await pilot.press("M")
        picker = app.screen
        assert isinstance(picker, PickTwoScreen)
        await pilot.press("space")  # the first: the baseline
        await pilot.press("c")
        assert "1 marked" in text(picker, ".form-error")
        await pilot.press("down", "space", "c")
        assert isinstance(app.screen, ReportScreen)
        report = app.screen.report
        assert "#1 preset 1" in report and "#2 8 req" in report
        ttft = next(line for line in report.splitlines() if line.startswith("ttft_p50"))
        assert "worse" in ttft, report  # 4 in flight wait longer than 1
        await pilot.press("escape")
        await pilot.press("q")


async def test_b_form_fires_a_shaped_workload_judged_by_its_slo(growing_ttft: str) -> None:
    app = cockpit(growing_ttft)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await pilot.press("B")
        form = app.screen
        assert isinstance(form, BurstFormScreen)
        fill(form, input_len="x:y")
        await pilot.press("enter")
        assert "range" in text(form, ".form-error")
        fill(form, input_len="30:60", output_len="3", slo="ttft=1s", requests="6")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: len(app.bursts_ctl.results) == 1, 60)
        summary = app.bursts_ctl.results[0].summary
        assert summary.slo is not None and summary.slo.attainment == 1.0
        assert summary.output_tokens == 6 * 3  # forced with ignore_eos
        assert summary.lengths_exact is False  # no /tokenize here: estimated, and said so
        assert "SLO met by 100%" in text(app, "#load-status")
        await pilot.press("R")
        assert isinstance(app.screen, ReportScreen)
        assert "APPROXIMATE" in app.screen.report
        await pilot.press("escape", "q")


async def test_a_burst_of_a_hundred_million_sends_at_once_and_x_stops_it(
    growing_ttft: str,
) -> None:
    """A run's length costs nothing up front: the load process makes each request when a slot
    frees, so sending starts at once, memory stays flat and `x` is obeyed within a second."""
    import time

    import psutil

    app = cockpit(growing_ttft)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot, app)
        await pilot.press("B")
        fill(app.screen, requests="100000000", concurrency="4", max_tokens="4")
        await pilot.press("enter")
        fired = time.monotonic()
        ctl = app.bursts_ctl
        sent = lambda: bool(ctl.bursts) and len(ctl.bursts[-1].records) >= 20  # noqa: E731
        assert await wait_for(pilot, sent, 30)
        assert time.monotonic() - fired < 20  # the load process starts in ~1 s here
        loaders = [p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())]
        assert loaders and all(p.memory_info().rss < 300 * 2**20 for p in loaders)
        asked = time.monotonic()
        await pilot.press("x")
        assert await wait_for(pilot, lambda: not ctl.running, 20)
        # The load process stops within a second (tests/test_load_workers.py); here the
        # summary and the screen's update come on top, on a machine shared with vLLM.
        assert time.monotonic() - asked < 5.0
        summary = ctl.results[-1].summary
        assert summary.cancelled and summary.succeeded >= 20 and summary.failed == 0
        await pilot.press("q")
