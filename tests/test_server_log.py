"""engine.server_log, the pure reader of a server's log, fed the captured vLLM 0.32 logs."""

from __future__ import annotations

from engine.events import PhaseEvent
from engine.loglines import ENGINE_DIED_CAUSE
from engine.server_log import EngineDeath, ServerLog
from engine.startup import Phase
from tests.helpers import FIXTURES, FakeClock


def _lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def test_a_real_start_up_moves_through_its_phases_and_facts() -> None:
    clock = FakeClock(0.0)
    log = ServerLog(clock)
    events = []
    for line in _lines("vllm-0.32-cpu-demo.stdout.log"):
        clock.advance(0.1)
        events += log.feed([line])
    phases = [e.phase for e in events if isinstance(e, PhaseEvent)]
    assert phases == [
        Phase.ENGINE_INIT,
        Phase.LOADING_WEIGHTS,
        Phase.COMPILING,
        Phase.KV_CACHE,
        Phase.API_STARTING,
    ]
    assert not [e for e in events if isinstance(e, EngineDeath)]  # not ready yet: no "death"
    assert log.tracker.facts.kv_cache_tokens == 2048
    ready = log.ready()
    assert ready is not None and ready.phase is Phase.READY and ready.previous_s >= 0
    assert log.ready() is None  # once


def test_the_newest_stats_line_is_kept_for_the_kv_fallback() -> None:
    log = ServerLog(FakeClock())
    log.feed(_lines("statslines-vllm-0.32-cpu.log"))
    assert log.stats is not None
    last = [ln for ln in _lines("statslines-vllm-0.32-cpu.log") if "Avg prompt" in ln][-1]
    assert f"Running: {log.stats.running} reqs" in last


def test_an_engine_killed_under_a_ready_server_is_named_once_with_its_cause() -> None:
    """The death line, then a flood of EngineDeadErrors in the same batch: the cause is the
    silent death, read when it was first seen; the flood does not name it again."""
    lines = _lines("vllm-0.32-cpu-engine-killed.log")
    flood = [ln for ln in lines if "EngineDeadError" in ln] * 500
    log = ServerLog(FakeClock())
    log.ready()
    events = log.feed(lines[:3] + flood)
    deaths = [e for e in events if isinstance(e, EngineDeath)]
    assert len(deaths) == 1
    assert deaths[0].cause == ENGINE_DIED_CAUSE
    assert deaths[0].tail[-1] == lines[1]  # up to the first sign of death, not the flood
    assert log.exit_cause() == ENGINE_DIED_CAUSE
    errors = log.last_errors()
    assert any("EngineDeadError" in e for e in errors) and len(errors) == len(set(errors))


def test_death_lines_before_ready_are_not_a_runtime_death() -> None:
    log = ServerLog(FakeClock())
    assert not [
        e for e in log.feed(_lines("vllm-0.32-cpu-kv-oom.log")) if isinstance(e, EngineDeath)
    ]
    cause = log.exit_cause()
    assert cause is not None and "less than requested memory for kv" in cause


def test_a_503_reads_the_cause_from_the_lines_so_far() -> None:
    log = ServerLog(FakeClock())
    log.ready()
    log.feed(["(EngineCore pid=1) ERROR 11-21 10:00:00 [core.py:1] RuntimeError: boom"])
    death = log.died()
    assert death.cause == "RuntimeError: boom"
    assert death.describe("/health answered 503") == (
        "engine dead (/health answered 503): RuntimeError: boom"
    )
