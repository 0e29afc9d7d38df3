"""Every node's GPUs and vLLM processes, from an observer actor on each node of a simulated
two-node Ray cluster (ray.cluster_utils.Cluster) on this machine, while the real demo vLLM runs
here; a node removed mid-run is shown as lost. No GPU here: each node says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine.node_observers import NodeObservers, vllm_roots
from engine.supervisor import Supervisor

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.ray, pytest.mark.vllm]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()  # type: ignore[no-untyped-call]


def test_an_observer_per_node_reports_gpus_and_the_vllm_processes(
    cluster: Any, demo_server: Supervisor
) -> None:
    assert demo_server.pid in vllm_roots()
    observers = NodeObservers()
    try:
        reports = observers.observe()
        assert len(reports) == 2 and len({r.node_id for r in reports}) == 2
        for report in reports:
            assert report.lost is None
            assert report.gpus == () and report.gpu_status.startswith("no GPU")
            # Both simulated nodes are this machine: each sees the demo's process tree.
            roles = {p.role for p in report.processes}
            assert {"APIServer", "VLLM::EngineCore"} <= roles, roles
            assert demo_server.pid in {p.pid for p in report.processes}
            assert all(p.rss_bytes for p in report.processes)
        doomed = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        assert len(observers.observe()) == 3  # a node that joins gets its observer
        cluster.remove_node(doomed)
        after = observers.observe()
        lost = [r for r in after if r.lost is not None]
        assert len(after) == 3 and len(lost) == 1, [(r.host, r.lost) for r in after]
        assert lost[0].to_json()["state"] == "lost"
        assert sum(r.lost is None for r in after) == 2
    finally:
        observers.close()


async def test_the_fleet_screen_shows_every_node(cluster: Any, demo_server: Supervisor) -> None:
    from engine.fleet_file import FleetMember
    from engine.fleet_watch import FleetWatcher
    from engine.session import AttachedSession
    from tui.app import CockpitApp
    from tui.commands.dashboard_config import UiConfig
    from tui.widgets.fleet_table import FleetTable

    member = FleetMember("demo", demo_server.base_url)
    watcher = FleetWatcher([member], interval=0.5)
    watcher.observe_nodes(cluster.address, interval=0.5)
    app = CockpitApp(AttachedSession(member.base_url), UiConfig(), fleet=watcher)
    rows: list[list[str]] = []
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(300):
            await pilot.pause(0.1)
            table = app.screen.query_one("#node-table", FleetTable)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            if len(rows) == 2 and all("EngineCore" in r[5] for r in rows):
                break
        assert len(rows) == 2, rows
        for row in rows:
            assert row[1] == "ok" and row[2].startswith("no GPU")
            assert "APIServer" in row[5] and "EngineCore" in row[5]
        title = str(app.screen.query_one("#nodes-title").render())
        assert "2 nodes" in title


def test_serve_with_ray_shows_every_node_in_the_device_panel(
    cluster: Any, demo_server: Supervisor
) -> None:
    """What `vllm-top serve --ray ADDRESS` hands the dashboard: the device sampler of the
    supervised server, with the cluster's nodes watched beside it."""
    import time

    from engine.device_sampler import DeviceSampler
    from engine.node_watch import NodeWatch
    from tui.view_models import device_view

    sampler = DeviceSampler(
        root_pid=lambda: demo_server.pid, nodes=NodeWatch(cluster.address, interval=0.5)
    )
    sampler.start()
    try:
        deadline = time.monotonic() + 60
        view = device_view(sampler.sample_once())
        while time.monotonic() < deadline and len(view.nodes) < 3:
            time.sleep(0.5)
            view = device_view(sampler.sample_once())
    finally:
        sampler.stop()
    assert view.nodes[0] == "Ray nodes: 2", view.nodes
    for line in view.nodes[1:]:
        assert "no GPU" in line and "vLLM processes" in line and "vLLM processes 0" not in line
    assert view.tree is not None and view.tree.startswith("vLLM tree")  # the local tree too
