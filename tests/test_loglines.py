from __future__ import annotations

from engine.loglines import (
    ENGINE_DIED_CAUSE,
    Level,
    failure_cause,
    is_error_line,
    notable_errors,
    parse_line,
)
from tests.helpers import FIXTURES


def test_vllm_032_line() -> None:
    p = parse_line(
        "(APIServer pid=2439) INFO 11-21 20:09:55 [entry.py:140] "
        "Starting vLLM server on http://0.0.0.0:8123"
    )
    assert (p.level, p.process, p.pid, p.source) == (Level.INFO, "APIServer", 2439, "entry.py:140")
    assert p.message == "Starting vLLM server on http://0.0.0.0:8123"


def test_worker_names_with_dashes_and_old_formats() -> None:
    p = parse_line("(VllmWorker-0 pid=2506) WARNING 11-21 20:09:25 [vllm.py:725] Model Runner V2")
    assert (p.process, p.level) == ("VllmWorker-0", Level.WARNING)
    old = parse_line("INFO 09-03 16:28:10 [api_server.py:1882] Starting vLLM API server on x")
    assert (old.process, old.source) == (None, "api_server.py:1882")
    older = parse_line("INFO 01-30 03:18:12 gpu_model_runner.py:848] Loading model")
    assert older.source == "gpu_model_runner.py:848"


def test_uvicorn_access_line_is_recognised() -> None:
    p = parse_line('INFO:     127.0.0.1:60804 - "GET /health HTTP/1.1" 200 OK')
    assert p.is_access_log and p.access_path == "/health" and p.access_status == 200
    plain = parse_line("INFO:     Application startup complete.")
    assert plain.level == Level.INFO and not plain.is_access_log


def test_every_line_of_a_real_log_parses_without_error() -> None:
    text = (FIXTURES / "vllm-0.32-cpu-demo.stdout.log").read_text()
    parsed = [parse_line(line) for line in text.splitlines() if line]
    prefixed = [p for p in parsed if p.process not in (None, "uvicorn")]
    # Every stdout line of 0.32 carries the (Process pid=N) prefix except uvicorn's access log.
    assert len(prefixed) == len([p for p in parsed if p.process != "uvicorn"])


def test_failure_cause_prefers_the_root_exception() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in <module>',
        "ValueError: No available memory for the cache blocks.",
        "(APIServer pid=1) ERROR 11-21 10:00:00 [core.py:1] EngineCore failed to start.",
        "RuntimeError: Engine core initialization failed. See root cause above. "
        "Failed core proc(s): {'EngineCore': 1}",
    ]
    assert failure_cause(lines) == "ValueError: No available memory for the cache blocks."
    assert is_error_line(lines[3]) and is_error_line(lines[2]) and not is_error_line(lines[0])


def test_failure_cause_of_a_port_clash() -> None:
    assert failure_cause(["...", "OSError: [Errno 98] Address already in use"]) == (
        "OSError: [Errno 98] Address already in use"
    )
    assert failure_cause(["all fine"]) is None


def test_failure_cause_of_bad_vllm_arguments() -> None:
    lines = [
        "                     [model_tag]",
        "api_server.py: error: argument --max-model-len: invalid human_readable_int_or_auto "
        "value: 'not-a-length'",
    ]
    cause = failure_cause(lines)
    assert cause is not None and cause.startswith("api_server.py: error: argument --max-model-len")


def test_an_engine_core_killed_mid_burst_is_named_as_such() -> None:
    """Real vLLM 0.32 output after `kill -9` of the engine core during a burst: every request
    in flight prints an EngineDeadError that points "above"; the cause is the silent death."""
    lines = (FIXTURES / "vllm-0.32-cpu-engine-killed.log").read_text().splitlines()
    assert failure_cause(lines) == ENGINE_DIED_CAUSE
    errors = notable_errors(lines)
    assert errors == [
        "APIServer: AsyncLLM output_handler failed.",
        "APIServer: vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue."
        " See stack trace (above) for the root cause.",
        "APIServer: Error in chat completion stream generator.",
    ]


def test_a_kv_cache_that_does_not_fit_names_the_memory() -> None:
    """Real vLLM 0.32 output with VLLM_CPU_KVCACHE_SPACE=200 on a 24 GiB machine."""
    lines = (FIXTURES / "vllm-0.32-cpu-kv-oom.log").read_text().splitlines()
    cause = failure_cause(lines)
    assert cause is not None and cause.startswith("RuntimeError: Worker failed with error")
    assert "less than requested memory for kv (200.0 GiB)" in cause
    errors = notable_errors(lines, 10)
    # No traceback frames, no carets, no repeats.
    assert not [e for e in errors if "File " in e or "^^^" in e or "Traceback" in e]
    assert len(errors) == len(set(errors))
    assert "EngineCore: EngineCore failed to start." in errors
