"""The dashboard's behaviour, driven with Textual's Pilot."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Static

from engine.events import ServerState
from engine.logbuffer import LogBuffer
from engine.loglines import Level
from engine.session import AttachedSession
from engine.supervisor import Supervisor
from tests.helpers import FIXTURES, free_port
from tui.app import CockpitApp
from tui.commands.dashboard_config import UiConfig
from tui.log_feed import ATTACHED_LOG_NOTE, LogFeed
from tui.messages import BurstFinished
from tui.screens.load_forms import BurstFormScreen
from tui.screens.modals import HelpScreen, ReportScreen
from tui.widgets.burst_table import MAX_ROWS as MAX_BURST_ROWS
from tui.widgets.burst_table import BurstTable
from tui.widgets.log_panel import MAX_VIEW_LINES, LogPanel


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await pilot.pause(0.2)
    return predicate()


@pytest.mark.vllm
async def test_b_fires_a_burst_that_runs_to_its_report(demo_server: Supervisor) -> None:
    messages: list[Message] = []
    app = CockpitApp(AttachedSession(demo_server.base_url), UiConfig(refresh_interval=0.5))
    async with app.run_test(size=(160, 48), message_hook=messages.append) as pilot:
        assert await wait_for(pilot, lambda: app.session.state is ServerState.READY, 30)
        assert await wait_for(pilot, lambda: app.figures.history.latest is not None, 30)
        await pilot.press("b")

        def finished() -> list[BurstFinished]:
            return [m for m in messages if isinstance(m, BurstFinished)]

        assert await wait_for(pilot, lambda: bool(finished()), 240)
        [done] = finished()
        assert done.error is None and done.summary is not None
        assert done.summary.requests == 100 and done.summary.success_rate >= 0.95
        assert done.summary.tokens_exact
        # The load panel lists the burst, the report is one key away.
        assert app.query_one(BurstTable).row_count == 1
        status = str(app.query_one("#load-status", Static).render())
        assert "100 ok" in status or f"{done.summary.succeeded} ok" in status
        assert "TTFT p50" in status
        await pilot.press("R")
        assert isinstance(app.screen, ReportScreen)
        assert "Latency" in app.screen.report and "TTFT" in app.screen.report
        await pilot.press("escape")
        # The charts have the client's own points and the server's histogram deltas.
        assert app.bursts_ctl.bursts and app.bursts_ctl.bursts[-1].records
        await pilot.pause(1.5)
        assert app.figures.history.quantile_series("ttft", 0.5, 120)
        kv_text = str(app.query_one("#kv-text", Static).render())
        assert "/ 2,048 tok" in kv_text
        await pilot.press("q")
    # Attached: quitting leaves the server alone.
    assert app.return_code == 0
    assert demo_server.state is ServerState.READY


async def test_keys_modals_and_an_unreachable_server(tmp_path: Path) -> None:
    app = CockpitApp(AttachedSession(f"http://127.0.0.1:{free_port()}"), UiConfig())
    async with app.run_test(size=(160, 48)) as pilot:
        assert await wait_for(pilot, lambda: app.session.state is ServerState.UNREACHABLE, 10)
        assert "UNREACHABLE" in str(app.query_one("#status").render())
        log = app.query_one(LogPanel)
        assert log.visible_lines() == [] and log.unavailable == ATTACHED_LOG_NOTE
        await pilot.press("b")
        assert any("not ready" in n.message for n in app._notifications)
        await pilot.press("x")
        assert any("no burst is running" in n.message for n in app._notifications)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.rows}
        assert {"fire-burst", "burst-form", "cancel-burst", "quit", "log-search"} <= ids
        await pilot.press("escape")
        await pilot.press("B")
        assert isinstance(app.screen, BurstFormScreen)
        form = app.screen
        form.query_one("#requests").value = "0"  # type: ignore[attr-defined]
        await pilot.press("enter")
        assert "greater than 0" in str(form.query_one(".form-error", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, BurstFormScreen)
        await pilot.press("q")
    assert app.return_code == 0


async def test_keymap_from_the_config_remaps_a_binding() -> None:
    config = UiConfig(keymap={"fire-burst": "space"})
    app = CockpitApp(AttachedSession("http://127.0.0.1:9"), config, start_workers=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        row = next(r for r in app.screen.rows if r[2] == "fire-burst")
        assert "space" in row[0].lower()
        await pilot.press("escape")
        await pilot.press("space")
        assert any("not ready" in n.message for n in app._notifications)


async def test_layout_is_compact_on_a_small_terminal() -> None:
    app = CockpitApp(AttachedSession("http://127.0.0.1:9"), UiConfig(), start_workers=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.has_class("compact")
        assert not app.query_one("#charts").display or not app.query_one("#charts").size.area
        await pilot.press("c")
        assert app.screen.has_class("show-charts")
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        # The smallest full layout: the log and the burst table give the charts their lines.
        assert app.screen.has_class("short") and not app.screen.has_class("compact")
        assert app.query_one("#log").outer_size.height == 8
        assert app.query_one("#charts").outer_size.height >= 18
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert not app.screen.has_class("compact") and not app.screen.has_class("short")
        assert app.query_one("#log").outer_size.height == 14


class LogApp(App[None]):
    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__()
        self.buffer = buffer

    def compose(self) -> ComposeResult:
        yield LogPanel(id="log")

    def on_mount(self) -> None:
        self.query_one(LogPanel).attach(LogFeed(self.buffer))


def real_log() -> LogBuffer:
    buffer = LogBuffer()
    for name, stream in (("stdout", "stdout"), ("stderr", "stderr")):
        text = (FIXTURES / f"vllm-0.32-cpu-demo.{name}.log").read_text()
        buffer.extend(stream, text.splitlines(), 0.0)  # type: ignore[arg-type]
    buffer.extend("stdout", ['INFO:     127.0.0.1:1 - "GET /metrics HTTP/1.1" 200 OK'] * 5, 0.0)
    buffer.extend(
        "stdout", ["(APIServer pid=1) ERROR 11-21 20:10:00 [core.py:1] EngineCore died"], 0.0
    )
    return buffer


async def test_log_panel_filters_searches_and_finds_errors(tmp_path: Path) -> None:
    buffer = real_log()
    app = LogApp(buffer)
    async with app.run_test(size=(140, 30)) as pilot:
        panel = app.query_one(LogPanel)
        visible = panel.visible_lines()
        assert visible and not any("GET /metrics" in t for t in visible)  # noise hidden
        panel.toggle_access()
        # The five added and the one in the captured log (a scrape while it was recorded).
        assert sum("GET /metrics" in t for t in panel.visible_lines()) == 6
        panel.toggle_access()
        panel.cycle_level()  # info+
        panel.cycle_level()  # warning+
        assert panel.min_level is Level.WARNING
        warned = panel.visible_lines()
        assert warned and all("INFO " not in t for t in warned if t.startswith("("))
        panel.cycle_level()  # error+
        assert panel.visible_lines()[-1].endswith("EngineCore died")
        panel.cycle_level()  # back to all
        panel.search_term = "KV cache size"
        assert panel.find(forward=True)
        assert not panel.follow
        assert panel.jump_to_last_error()
        saved = panel.save(tmp_path / "log.txt")
        assert "CPU KV cache size: 2,048 tokens" in saved.read_text()
        await pilot.press("f")  # not bound in this bare app: follow is toggled by the method
        panel.toggle_follow()
        assert panel.follow


async def test_a_log_flood_stays_bounded() -> None:
    buffer = LogBuffer(max_lines=20_000)
    app = LogApp(buffer)
    async with app.run_test(size=(100, 20)):
        panel = app.query_one(LogPanel)
        for chunk in range(10):
            buffer.extend("stdout", [f"line {chunk}-{i}" for i in range(5_000)], 0.0)
            panel.pull()
        assert len(panel.visible_lines()) == MAX_VIEW_LINES
        assert panel.visible_lines()[-1] == "line 9-4999"
        # Pulled every 5,000 lines: nothing fell out of the buffer between pulls.
        assert panel._dropped == 0
        buffer.extend("stdout", [f"burst {i}" for i in range(50_000)], 0.0)
        panel.pull()
        assert panel._dropped == 30_000  # only on disk now, and the bar says so


class BurstTableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield BurstTable()


async def test_the_burst_table_keeps_the_newest_rows_in_view_and_no_more() -> None:
    app = BurstTableApp()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(BurstTable)
        assert table.row_count == 0 and table.size.height == 1  # the header, waiting
        for n in range(1, MAX_BURST_ROWS + 31):
            table.add_row(str(n), "100 x c10", "100%", "25.00", "3,200", "22 ms", "25 ms", "2.0 ms")
        await pilot.pause()
        await pilot.pause()
        assert table.row_count == MAX_BURST_ROWS
        assert table.rows[0][0] == "31" and table.rows[-1][0] == str(MAX_BURST_ROWS + 30)
        # Seven lines tall, scrolled to the bottom: the newest burst is in view.
        assert table.size.height == 7
        assert table.max_scroll_y > 0 and table.scroll_y == table.max_scroll_y
        with pytest.raises(ValueError, match="8 cells, not 2"):
            table.add_row("1", "2")


BURST_FIGURES = ("100%", "11.25", "1,414", "203 ms", "1,806 ms", "2.9 ms")


@pytest.mark.parametrize(
    ("width", "label", "figures"),
    [
        (100, "100 req, c=10, 128 tok", BURST_FIGURES),
        (72, "100 req, c=10, …", BURST_FIGURES),
        (60, None, BURST_FIGURES),
        # ok, tok/s and TTFT p50 first, then req/s; the p99s do not fit.
        (40, None, ("100%", "11.25", "1,414", "203 ms")),
    ],
)
async def test_a_narrow_burst_table_shortens_the_label_then_drops_columns(
    width: int, label: str | None, figures: tuple[str, ...]
) -> None:
    app = BurstTableApp()
    async with app.run_test(size=(width, 10)) as pilot:
        table = app.query_one(BurstTable)
        table.add_row("12", "100 req, c=10, 128 tok", *BURST_FIGURES)
        await pilot.pause()
        assert table.size.height == 2  # the header and one line, never a wrapped row
        static = app.query_one("BurstTable Static", Static)
        header, row = (
            static.render_lines(Region(0, y, static.size.width, 1))[0].text.rstrip() for y in (0, 1)
        )
        # Whole figures or none: only the label is ever shortened.
        assert [cell for cell in re.split(r"\s{2,}", row) if cell] == [
            "12",
            *([label] if label else []),
            *figures,
        ]
        assert ("load" in header) is (label is not None)


def test_terminal_without_unicode_is_detected() -> None:
    from tui.format import terminal_lacks_unicode

    assert terminal_lacks_unicode({"LANG": "C"}, "utf-8")
    assert terminal_lacks_unicode({"LC_ALL": "en_US.ISO-8859-1"}, "utf-8")
    assert not terminal_lacks_unicode({"LANG": "en_US.UTF-8"}, "utf-8")
    assert terminal_lacks_unicode({}, "ascii")
    assert not terminal_lacks_unicode({}, "utf-8")


async def test_ascii_mode_draws_without_box_drawing_or_blocks() -> None:
    from tests.seeded_app import seed, seeded_app

    app = seeded_app()
    app.config = UiConfig(ascii=True)
    async with app.run_test(size=(160, 48)) as pilot:
        seed(app)
        await pilot.pause()
        app.refresh_panels()
        await pilot.pause()
        assert app.screen.has_class("ascii")
        text = "\n".join(
            str(app.query_one(sel).render())
            for sel in ("#status", "#startup", "#kv-text", "#device", "#load-status")
        )
        assert text.startswith("* READY")
        assert not set(text) & set("●✓▶·█░▁▂▃▄▅▆▇")


async def test_kv_panel_falls_back_to_the_logged_stats_line(tmp_path: Path) -> None:
    """No /metrics to read (here: nothing answers HTTP), but the log has vLLM's stats lines."""
    from engine.launch import LaunchSpec
    from engine.session import SupervisedSession

    lines = (FIXTURES / "statslines-vllm-0.32-cpu.log").read_text().splitlines()
    busy = next(i for i, line in enumerate(lines) if "Waiting: 7 reqs" in line)
    script = tmp_path / "server.py"
    script.write_text(
        f"#!{sys.executable}\nimport time\n"
        f"print({chr(10).join(lines[: busy + 1])!r}, flush=True)\ntime.sleep(60)\n"
    )
    script.chmod(0o755)
    session = SupervisedSession(
        LaunchSpec(model="unused", python=str(script), port=free_port()), log_dir=tmp_path
    )
    app = CockpitApp(session, UiConfig(refresh_interval=0.2, ascii=False))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            assert await wait_for(pilot, lambda: app.figures.stats_line is not None, 20)
            await pilot.pause(0.5)
            text = str(app.query_one("#kv-text", Static).render())
            assert "running 11  waiting 7" in text and "100%" in text
            assert "from the log's stats line" in text
    finally:
        session.stop(2)


async def test_chart_points_beyond_now_do_not_crash_the_legend() -> None:
    from tui.load_views import ChartData
    from tui.widgets.chart_panel import ChartPanel

    class ChartApp(App[None]):
        def compose(self) -> ComposeResult:
            yield ChartPanel()

    app = ChartApp()
    async with app.run_test(size=(120, 40)) as pilot:
        future = [(100.7, 400.0)]  # a client bucket's midpoint, 0.7 s after "now"
        app.query_one(ChartPanel).show(
            ChartData(100.0, 60.0, [], [], future, future, [], [], future, [95.0])
        )
        await pilot.pause()
        await pilot.pause()
        assert app.is_running  # plotext's legend used to raise IndexError here
        assert "no data yet" in str(app.query_one("#ttft-chart").render())


async def test_secrets_printed_by_the_server_never_reach_the_screen_or_the_saved_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Log

    from engine.launch import LaunchSpec
    from engine.redact import Redactor
    from engine.session import SupervisedSession

    key, token = "sk-known-key-0123456789", "2ngrokTOKENabcdef"
    printed = [
        f"(APIServer pid=1) INFO 11-21 10:00:00 [api_utils.py:286] non-default args: "
        f"{{'model': 'm', 'api_key': ['{key}']}}",
        f"INFO:     request with Authorization: Bearer {key}",
        f"env NGROK_AUTHTOKEN={token}",
        "INFO:     Application startup complete.",
    ]
    script = tmp_path / "server.py"
    script.write_text(
        f"#!{sys.executable}\nimport time\nprint({chr(10).join(printed)!r}, flush=True)\n"
        "time.sleep(60)\n"
    )
    script.chmod(0o755)
    spec = LaunchSpec(model="unused", python=str(script), port=free_port())
    session = SupervisedSession(spec, log_dir=tmp_path, redact=Redactor([key, token]))
    app = CockpitApp(session, UiConfig(refresh_interval=0.2))
    monkeypatch.chdir(tmp_path)  # `s` saves into the current directory
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            log = app.query_one("#log", LogPanel)
            assert await wait_for(
                pilot, lambda: "startup complete" in "\n".join(log.visible_lines()), 20
            )
            await pilot.press("s")
            await pilot.pause(0.3)
            shown = "\n".join(str(line) for line in app.query_one(Log).lines)
            [saved] = tmp_path.glob("vllm-top-log-*.txt")
            on_disk = session.log_path.read_text() if session.log_path else ""
            for text in (shown, saved.read_text(), on_disk):
                assert key not in text and token not in text
                assert "'api_key': ['***']" in text and "Bearer ***" in text
    finally:
        session.stop(2)
