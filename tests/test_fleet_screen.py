"""The fleet screen: Pilot (rows, sorting, drill-in and back, a burst at an endpoint) and layout
snapshots at 80x24 and 160x48, on the seeded fleet (tests/seeded_fleet.py).

Update after eyeballing the report: pytest tests/test_fleet_screen.py --snapshot-update
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.events import ServerState
from engine.fleet_watch import FleetWatcher
from engine.session import AttachedSession
from tests.helpers import FakeClock
from tests.seeded_app import SeededDevice
from tests.seeded_fleet import MEMBERS, NOW, fleet_reports
from tui.app import CockpitApp
from tui.commands.dashboard_config import UiConfig
from tui.screens.fleet import FleetScreen
from tui.screens.modals import HelpScreen
from tui.widgets.dashboard import Dashboard
from tui.widgets.fleet_table import FleetTable


def seeded_fleet_app() -> CockpitApp:
    clock = FakeClock(NOW)
    first = MEMBERS[0]
    session = AttachedSession(first.base_url, clock=clock, state=ServerState.READY)
    return CockpitApp(
        session,
        UiConfig(),
        start_workers=False,
        clock=clock,
        device_sampler=SeededDevice(),
        fleet=FleetWatcher(MEMBERS, clock=clock),
    )


async def seed_fleet(pilot: Any) -> None:
    app = pilot.app
    for report in fleet_reports():
        app.fleet.figures.take(report)  # not posted: a newer round replaces a queued one
    app.fleet.redraw()
    await pilot.pause()
    await pilot.pause()  # the table's new column widths take a second frame


def selected(app: CockpitApp) -> str | None:
    row = app.screen.query_one("#fleet-table", FleetTable).selected
    return row.endpoint if row is not None else None


def table_rows(app: CockpitApp) -> list[list[str]]:
    table = app.screen.query_one("#fleet-table", FleetTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_fleet_screen_shows_every_endpoint_and_each_engine() -> None:
    app = seeded_fleet_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await seed_fleet(pilot)
        assert isinstance(app.screen, FleetScreen)
        rows = table_rows(app)
        names = ["dp-pair", " └ 0", " └ 1", "replica-a", "replica-c", "web-box"]
        assert [r[0] for r in rows] == names
        by_name = {r[0]: r for r in rows}
        # KV: the mean of the two engines and the fullest, never their sum (73% and 80%).
        assert by_name["dp-pair"][2] == "77% max 80%"
        assert by_name[" └ 0"][2] == "73%" and by_name[" └ 1"][2] == "80%"
        assert by_name[" └ 1"][1] == "▲ busiest" and by_name[" └ 0"][1] == "▼ idlest"
        # Windowed figures over the last 10 s: the generation counters' growth, added up.
        assert by_name["dp-pair"][6] == "858.7" and by_name[" └ 0"][6] == "429.2"
        # Counts add up: 11 + 12 running.
        assert by_name["dp-pair"][3] == "23"
        assert by_name["replica-c"][1] == "no answer"
        assert by_name["web-box"][1] == "not vLLM (404)"
        assert by_name["replica-a"][8] == "126/281 GiB (2)"  # two H200s from dcgm-exporter
        detail = str(app.screen.query_one("#fleet-detail").render())
        assert "dp-pair" not in detail and "http://10.0.0.12:8000/v1" in detail


async def test_sorting_keeps_engines_under_their_endpoint_and_the_cursor_on_its_row() -> None:
    app = seeded_fleet_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await seed_fleet(pilot)
        await pilot.press("down", "down", "down")  # replica-a
        assert selected(app) == "replica-a"
        await pilot.press("s")  # by KV usage, fullest first
        assert isinstance(app.screen, FleetScreen) and app.screen.sort_key == "kv"
        assert [r[0] for r in table_rows(app)] == [
            "replica-a", "dp-pair", " └ 0", " └ 1", "replica-c", "web-box",
        ]  # fmt: skip
        assert selected(app) == "replica-a"


async def test_enter_opens_the_endpoint_dashboard_and_escape_comes_back() -> None:
    app = seeded_fleet_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await seed_fleet(pilot)
        await pilot.press(*["down"] * 5)  # web-box, the last row
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, FleetScreen)
        assert app.screen.query_one(Dashboard) is not None
        assert app.session.base_url == "http://10.0.0.14:80"
        assert app.sub_title == "web-box"
        footer_keys = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        assert "fleet" in footer_keys  # Esc, in the footer, with a fleet only
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        assert selected(app) == "web-box"
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "fleet-burst-all" in str(app.screen.rows)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        # A cockpit key does nothing to the hidden dashboard while the fleet is shown.
        await pilot.press("x")
        assert isinstance(app.screen, FleetScreen)


async def test_b_on_the_fleet_opens_the_endpoint_and_fires_the_default_burst() -> None:
    app = seeded_fleet_app()
    fired: list[int] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await seed_fleet(pilot)
        app.desk.burst = fired.append  # type: ignore[method-assign,assignment]
        app.show_server = lambda session: None  # type: ignore[method-assign]
        await pilot.press("b")  # dp-pair is the first row
        await pilot.pause()
        assert not isinstance(app.screen, FleetScreen)
        assert app.sub_title == "dp-pair"
        assert fired == [0]  # the default burst, at the endpoint just opened


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_fleet_screen_layout(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_fleet_app(), terminal_size=size, run_before=seed_fleet)
