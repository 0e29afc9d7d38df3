"""Workloads, the server's side, the search and A/B against the real demo vLLM: prompt lengths
are the server's own count, the server counts the tokens the client did, a shared prefix hits
the cache (and distinct prompts do not), multi-turn chats have per-turn figures, the search
finishes, and `A` restarts vLLM with edited arguments and compares the same workload."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from engine.demo import demo_launch_spec
from engine.events import ServerState
from engine.session import SupervisedSession
from engine.supervisor import Supervisor
from tests.helpers import free_port
from tests.test_app_pilot import wait_for
from tests.test_bench_cli import bench
from tests.test_cli_errors import assert_usage_error
from tui.app import CockpitApp
from tui.commands.dashboard_config import BurstPreset, UiConfig
from tui.screens.load_forms import ArgsScreen
from tui.screens.modals import ReportScreen

pytestmark = pytest.mark.vllm

SAMPLE = Path(__file__).parent.parent / "bench" / "data" / "sharegpt-sample.json"


def measured(
    server: Supervisor, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], list[dict[str, str]]]:
    out, rows = tmp_path / "r.json", tmp_path / "r.csv"
    done = bench("--url", server.base_url, "--json", str(out), "--csv", str(rows), *args)
    assert done.returncode == 0, done.stderr[-3000:]
    with rows.open(encoding="utf-8") as f:
        return done, json.loads(out.read_text()), list(csv.DictReader(f))


@pytest.mark.parametrize("endpoint", ["completions", "chat"])
def test_prompt_lengths_are_the_servers_own_count(
    demo_server: Supervisor, tmp_path: Path, endpoint: str
) -> None:
    done, data, rows = measured(demo_server, tmp_path, "-n", "6", "-c", "3", "--input-len", "100",
                                "--output-len", "8", "--endpoint", endpoint)  # fmt: skip
    assert [r["prompt_tokens"] for r in rows] == ["100"] * 6  # usage.prompt_tokens, per request
    assert [r["output_tokens"] for r in rows] == ["8"] * 6
    assert data["workload"]["lengths_exact"] is True
    server = data["server"]
    # The server's counters moved by what the client counted (nothing else loads it).
    assert server["generation_tokens"] == data["output_tokens"] == 48
    assert server["prompt_tokens"] == 600
    assert server["ttft_ms"]["p50"] is not None and server["queue_ms"] is not None
    assert "exact, counted by the server's /tokenize" in done.stdout


def test_a_shared_prefix_hits_the_cache_and_distinct_prompts_do_not(
    demo_server: Supervisor, tmp_path: Path
) -> None:
    _, shared, _ = measured(demo_server, tmp_path, "-n", "8", "-c", "2", "--input-len", "400",
                            "--prefix-len", "256", "--output-len", "4")  # fmt: skip
    _, distinct, _ = measured(demo_server, tmp_path, "-n", "4", "-c", "2", "--input-len", "400",
                              "--output-len", "4", "--seed", "7")  # fmt: skip
    assert shared["server"]["prefix_cache_hit_rate"] > 0.3, shared["server"]
    assert distinct["server"]["prefix_cache_hit_rate"] < 0.05, distinct["server"]


def test_multi_turn_chats_have_figures_per_turn(demo_server: Supervisor, tmp_path: Path) -> None:
    done, data, rows = measured(demo_server, tmp_path, "-n", "6", "-c", "2", "--turns", "3",
                                "--input-len", "40", "--output-len", "6")  # fmt: skip
    turns = data["per_turn"]
    assert [t["turn"] for t in turns] == [1, 2, 3]
    assert all(t["requests"] == 2 and t["succeeded"] == 2 for t in turns)
    means = [t["prompt_tokens_mean"] for t in turns]
    assert means[0] < means[1] < means[2]  # the history grows, turn by turn
    assert sorted((r["conversation"], r["turn"]) for r in rows) == [
        (c, t) for c in ("0", "1") for t in ("1", "2", "3")
    ]
    assert "Turn 3 " in done.stdout


def test_a_sample_dataset_runs_with_exact_lengths(demo_server: Supervisor, tmp_path: Path) -> None:
    _, data, rows = measured(demo_server, tmp_path, "-n", "8", "-c", "4", "--dataset", str(SAMPLE),
                             "--output-len", "4")  # fmt: skip
    assert data["workload"]["lengths_exact"] is True and data["success_rate"] == 1.0
    assert len({r["prompt_tokens"] for r in rows}) > 1  # lengths from the data


def test_the_search_finishes_on_the_demo(demo_server: Supervisor, tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    done = bench("--url", demo_server.base_url, "--find-max", "concurrency", "--slo", "e2e=60s",
                 "--target", "0.8", "--max-load", "2", "--probe-requests", "10",
                 "--input-len", "32", "--output-len", "4", "--json", str(out), "-q")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(out.read_text())["find_max"]
    assert [p["load"] for p in found["probes"]] == [1, 2]
    assert found["answer"] == 2 and found["at_least"] is True
    assert "Most concurrency meeting the SLO for 80% of requests: at least 2" in done.stdout


def test_an_input_over_max_model_len_says_the_limit(demo_server: Supervisor) -> None:
    done = bench("--url", demo_server.base_url, "--input-len", "2000", "-n", "2")
    assert_usage_error(done, "1024")


async def test_a_restarts_vllm_with_edited_args_and_compares(
    demo_model_dir: Path, tmp_path: Path
) -> None:
    spec = demo_launch_spec(sys.executable, demo_model_dir, port=free_port())
    session = SupervisedSession(spec, log_dir=tmp_path / "logs")
    burst = BurstPreset(requests=8, concurrency=4, input_len="64", output_len="8", seed=3)
    app = CockpitApp(session, UiConfig(refresh_interval=0.5, default_burst=burst))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            assert await wait_for(pilot, lambda: session.state is ServerState.READY, 300)
            await pilot.press("A")
            assert any("fire a burst first" in n.message for n in app._notifications)
            await pilot.press("b")
            assert await wait_for(pilot, lambda: len(app.bursts_ctl.results) == 1, 120)
            await pilot.press("A")
            form = app.screen
            assert isinstance(form, ArgsScreen)
            line = form.query_one("#args", Input)
            assert "--enforce-eager" in line.value and "--max-model-len 1024" in line.value
            line.value += " --max-num-seqs 2"
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), 400)
            assert isinstance(app.screen, ReportScreen)
            report = app.screen.report
            assert "changed: added --max-num-seqs 2" in report
            assert "start-up to ready" in report and "loading weights" in report
            assert "ttft_p50" in report and "#1 before" in report and "#2 after" in report
            assert session.spec.extra_args[-2:] == ("--max-num-seqs", "2")
            before, after = (r.summary for r in app.bursts_ctl.results)
            # The same seeded workload both times: the same prompts, to the token.
            assert before.prompt_tokens == after.prompt_tokens == 8 * 64
            assert after.succeeded == 8
            await pilot.press("escape", "q")
    finally:
        session.stop(10)
