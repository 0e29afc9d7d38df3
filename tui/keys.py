"""The cockpit's keys. Each has an id: `[keymap]` in the config file remaps it by that id
(`fire-burst = "space"`), and `?` lists them all."""

from __future__ import annotations

from textual.binding import Binding, BindingType

COCKPIT_KEYS: list[BindingType] = [
    Binding("b", "burst()", "Burst", id="fire-burst"),
    Binding("B", "desk('burst_form')", "Custom burst", id="burst-form"),
    Binding("x", "desk('cancel')", "Cancel burst", id="cancel-burst"),
    *(
        Binding(str(i), f"burst({i})", f"Preset {i}", show=False, id=f"preset-{i}")
        for i in range(1, 10)
    ),
    Binding("S", "desk('search')", "Find max", id="find-max"),
    Binding("M", "desk('compare')", "Compare", show=False, id="compare-bursts"),
    Binding("A", "desk('ab')", "A/B", show=False, id="ab-test"),
    Binding("R", "desk('report')", "Last report", show=False, id="show-report"),
    Binding("r", "restart", "Restart", id="restart-server"),
    Binding("p", "share", "Share", id="share"),
    Binding("w", "toggle_window", "60s/5m", show=False, id="chart-window"),
    Binding("c", "toggle_charts", "Charts/panels", show=False, id="toggle-charts"),
    Binding("f", "log('follow')", "Follow", show=False, id="log-follow"),
    Binding("slash", "log('search')", "Search", id="log-search"),
    Binding("n", "log('next')", "Next match", show=False, id="log-next"),
    Binding("N", "log('prev')", "Prev match", show=False, id="log-prev"),
    Binding("l", "log('level')", "Level", show=False, id="log-level"),
    Binding("a", "log('access')", "Access log", show=False, id="log-access"),
    Binding("e", "log('error')", "Last error", show=False, id="log-error"),
    Binding("s", "log('save')", "Save log", show=False, id="log-save"),
    Binding("escape", "fleet", "Fleet", id="back-to-fleet"),  # shown with a fleet only
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit_app", "Quit", id="quit"),
]
