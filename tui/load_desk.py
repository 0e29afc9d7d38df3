"""The load side of the cockpit, on the UI thread: the keys that fire bursts (`b`, `1`-`9`, `B`),
search for the most load that meets an SLO (`S`), compare two bursts (`M`) and run an A/B test
of vLLM's arguments (`A`); and what the load's workers say (tui.messages.LoadNews), shown in
the load panel. The workers themselves are tui.bursts'.

An A/B run: the supervised server restarts with the edited arguments (a thread worker), and
once it is ready the last burst's preset (same seed, same prompts) fires again; its result is
compared with the earlier one, naming the changed arguments, with both start-ups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from textual.app import App
from textual.notifications import SeverityLevel

from engine.events import ServerState
from engine.session import Session, SupervisedSession
from loadgen.report import render_report
from loadgen.search import Probe, render_search
from loadgen.stats import Summary
from tui import messages as msg
from tui.bursts import BurstController, Fired, KeptResult
from tui.commands.dashboard_config import BurstPreset, UiConfig
from tui.commands.settings import split_api_keys
from tui.comparisons import StartupRecord, burst_result, changed_args, render_ab, render_bursts
from tui.format import ms
from tui.load_views import preparing_view, progress_view, result_view, search_view
from tui.screens.load_forms import (
    ArgsScreen,
    BurstFormScreen,
    PickTwoScreen,
    SearchFormScreen,
    SearchRequest,
)
from tui.screens.modals import ReportScreen
from tui.widgets.load_panel import LoadPanel

log = logging.getLogger(__name__)

ENDED = (ServerState.EXITED, ServerState.STOPPED, ServerState.DEAD)


@dataclass
class ABRun:
    before: KeptResult
    args_before: tuple[str, ...]
    args_after: tuple[str, ...]
    keys: tuple[str, ...]  # --api-key values, kept off the editable line
    startup_before: StartupRecord
    stage: str = "restarting"  # then "starting", then "firing"
    label: str | None = None
    startup_after: StartupRecord | None = None


class LoadDesk:
    def __init__(
        self,
        app: App[int],
        session: Session,
        config: UiConfig,
        bursts: BurstController,
        on_busy: Callable[[bool], None],
    ) -> None:
        """on_busy: told when load starts (True) and ends (False): the watcher looks faster."""
        self._app = app
        self._session = session
        self._config = config
        self.bursts = bursts
        self._on_busy = on_busy
        self.last_report: str | None = None  # what `R` shows: a burst, a search, a comparison
        self._search_title = ""
        self._probes: list[Probe] = []
        self._ab: ABRun | None = None

    @property
    def _panel(self) -> LoadPanel:
        return self._app.query_one(LoadPanel)

    def _say(self, text: str, severity: SeverityLevel = "warning") -> None:
        self._app.notify(text, severity=severity)

    # ---- keys -----------------------------------------------------------------------------

    def burst(self, preset_number: int) -> None:
        self._fired(self.bursts.press(preset_number, self._session, self._config))

    def burst_form(self) -> None:
        def fire(preset: BurstPreset | None) -> None:
            if preset is not None:
                self._fired(self.bursts.fire(preset, preset.describe(), self._session))

        self._app.push_screen(BurstFormScreen(self._config.default_burst), fire)

    def _fired(self, outcome: Fired | str) -> None:
        if isinstance(outcome, str):
            self._say(outcome)
            return
        self._on_busy(True)
        self._panel.show_progress(progress_view(outcome.label, None, outcome.total))

    def cancel(self) -> None:
        cancelled = self.bursts.cancel()
        what = "search" if self.bursts.searching else "burst"
        self._say(f"cancelling the {what}" if cancelled else "no burst is running", "information")

    def report(self) -> None:
        if self.last_report is None:
            self._say("no burst has finished yet", "information")
            return
        self._app.push_screen(ReportScreen(self.last_report))

    def search(self) -> None:
        default = self._config.default_burst

        def start(request: SearchRequest | None) -> None:
            if request is None:
                return
            outcome = self.bursts.search(request.spec, request.slo, default, self._session)
            if isinstance(outcome, str):
                self._say(outcome)
                return
            self._search_title, self._probes = outcome.label, []
            self._panel.show_search(search_view(outcome.label, [], None, None))
            self._on_busy(True)

        self._app.push_screen(SearchFormScreen(default.slo or "ttft=1s", default.describe()), start)

    def compare(self) -> None:
        results = list(self.bursts.results)
        if len(results) < 2:
            self._say(f"comparing needs two finished bursts ({len(results)} so far)", "information")
            return
        choices = [
            (
                f"#{r.number} {r.label}: TTFT p50 {ms(r.summary.ttft.p50)}, "
                f"{r.summary.output_token_throughput:,.0f} tok/s",
                r.number,
            )
            for r in results
        ]

        def show(picked: tuple[int, int] | None) -> None:
            if picked is None:
                return
            a, b = (self.bursts.result(n) for n in picked)
            if a is None or b is None:
                return
            text = render_bursts(
                burst_result(a.number, a.label, a.summary),
                burst_result(b.number, b.label, b.summary),
            )
            self.last_report = text
            self._app.push_screen(ReportScreen(text))

        self._app.push_screen(PickTwoScreen(choices), show)

    def ab(self) -> None:
        session = self._session
        if not isinstance(session, SupervisedSession):
            self._say("attached: this server is not ours to restart")
            return
        before = self.bursts.last_result
        if before is None:
            self._say("fire a burst first: A/B fires its workload again after the restart")
            return
        if self.bursts.running or self._ab is not None:
            self._say("wait for the running burst or A/B run to end (x cancels a burst)")
            return
        args, keys = split_api_keys(session.spec.extra_args)
        startup = StartupRecord.of(session.tracker)

        def restart(edited: tuple[str, ...] | None) -> None:
            if edited is None:
                return
            self._ab = ABRun(before, args, edited, keys, startup)
            full = edited + (("--api-key", *keys) if keys else ())
            self._say("A/B: restarting vLLM with the edited arguments", "information")
            self._app.run_worker(
                lambda: self._relaunch(session, full),
                group="session",
                description="A/B restart",
                thread=True,
                exit_on_error=False,
            )

        self._app.push_screen(ArgsScreen(args), restart)

    def _relaunch(self, session: SupervisedSession, args: tuple[str, ...]) -> None:
        """A worker: the restart, then news of it (never an attribute of the app's)."""
        try:
            session.restart(extra_args=args)
        except Exception as exc:  # a failed start is the A/B run's end, said, not a crash
            self._app.post_message(msg.ServerRelaunched(f"{type(exc).__name__}: {exc}"))
            return
        self._app.post_message(msg.ServerRelaunched(None))

    def server_changed(self) -> None:
        """The server's state may have moved: an A/B run waiting for it goes on or ends."""
        ab = self._ab
        if ab is None or ab.stage != "starting":
            return
        state = self._session.state
        if state in ENDED:
            self._ab = None
            detail = self._session.detail or state.value
            self._app.notify(f"vLLM did not start with the edited arguments: {detail}",
                             title="A/B", severity="error")  # fmt: skip
            return
        if state is not ServerState.READY:
            return
        ab.startup_after = StartupRecord.of(self._session.tracker)
        ab.label = "A/B: " + ("; ".join(changed_args(ab.args_before, ab.args_after)) or "same")
        ab.stage = "firing"
        outcome = self.bursts.fire(ab.before.preset, ab.label, self._session)
        if isinstance(outcome, str):
            self._ab = None
        self._fired(outcome)

    # ---- what the workers say -------------------------------------------------------------

    def take(self, news: msg.LoadNews) -> None:
        panel = self._panel
        if isinstance(news, msg.BurstProgress):
            self.bursts.progressed(news)
            panel.show_progress(progress_view(news.label, news.progress, news.progress.total))
        elif isinstance(news, msg.BurstPreparing):
            panel.show_progress(preparing_view(news.label, news.done, news.total))
        elif isinstance(news, msg.ProbeStarted):
            self.bursts.probe_started(news)
        elif isinstance(news, msg.BurstFinished):
            self._finished(news)
        elif isinstance(news, msg.SearchProbed):
            self._probes.append(news.probe)
            panel.show_search(search_view(self._search_title, self._probes, None, None))
        elif isinstance(news, msg.SearchFinished):
            self.bursts.search_finished()
            self._on_busy(False)
            view = search_view(self._search_title, self._probes, news.result, news.error)
            panel.show_search(view)
            if news.result is not None:
                self.last_report = render_search(news.result)
        elif isinstance(news, msg.ServerRelaunched):
            self._relaunched(news.error)

    def _finished(self, news: msg.BurstFinished) -> None:
        kept = self.bursts.finished(news)
        if not self.bursts.searching:
            self._on_busy(False)
        if kept is None:
            why = news.error or "?"
            self._app.notify(why, title="burst failed", severity="error", timeout=8)
            self._panel.show_failed(news.label, why)
            if self._ab is not None and news.label == self._ab.label:
                self._ab = None
            return
        self._panel.show_result(result_view(news.label, kept.summary), kept.number)
        self.last_report = self._report(kept.summary, news.label)
        ab = self._ab
        if ab is not None and news.label == ab.label:
            self._ab = None
            text = render_ab(
                burst_result(ab.before.number, "before", ab.before.summary),
                burst_result(kept.number, "after", kept.summary),
                changed_args(ab.args_before, ab.args_after),
                (ab.startup_before, ab.startup_after or StartupRecord(None, ())),
            )
            self.last_report = text
            self._app.push_screen(ReportScreen(text))

    @staticmethod
    def _report(summary: Summary, label: str) -> str:
        return render_report(summary, title=f"vllm-top burst: {label}")

    def _relaunched(self, error: str | None) -> None:
        if self._ab is None:
            return
        if error is not None:
            self._ab = None
            self._app.notify(error, title="A/B: vLLM could not be restarted", severity="error")
            return
        self._ab.stage = "starting"
        self.server_changed()
