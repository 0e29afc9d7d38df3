"""Workers on Ray: a simulated two-node cluster on this machine (ray.cluster_utils.Cluster),
one actor pinned to each node, against the truth server; a node removed mid-run.

Needs the cluster extra (`pip install -e ".[cluster]"`): skipped without Ray, and marked `ray`
so that `.ci/run` runs this lane with the extra installed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadgen.config import LoadConfig
from loadgen.live import LiveRun
from loadgen.runner import resolve_model
from loadgen.stats import Summary
from tests.test_loadgen_truth import serve_truth

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

TTFT = 0.05
ITL = 0.005
TOKENS = 8
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def truth_url() -> Iterator[str]:
    yield from serve_truth(TTFT, ITL, TOKENS)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"head": 1}})
    c.add_node(num_cpus=1, resources={"second": 1})
    c.wait_for_nodes()
    ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()  # type: ignore[no-untyped-call]


def _run(config: LoadConfig, on_progress: Any = None) -> tuple[LiveRun, Summary]:
    run = LiveRun(resolve_model(config))
    run.start()
    for progress in run.follow(poll_s=0.1):
        if on_progress is not None:
            on_progress(progress)
    return run, run.finish()


def test_one_actor_per_node_merged_into_one_exact_run(cluster: Any, truth_url: str) -> None:
    config = LoadConfig(
        truth_url, requests=200, concurrency=8, max_tokens=TOKENS, ray=cluster.address, workers=None
    )
    run, s = _run(config)
    assert s.workers == 2
    # Each node took its share; the report says where each worker ran.
    assert sorted(share.planned or 0 for share in s.shares) == [100, 100]
    assert [share.succeeded for share in s.shares] == [100, 100]
    assert all(share.where for share in s.shares)
    assert sorted(r.index for r in run.records) == list(range(200))
    assert (s.succeeded, s.failed, s.lost) == (200, 0, 0)
    assert s.output_tokens == 200 * TOKENS and s.tokens_exact
    # Durations measured on each actor's own clock: the programmed TTFT holds.
    assert s.ttft.p50 is not None and TTFT * 1000 <= s.ttft.p50 <= TTFT * 1000 + 40
    assert s.itl.count == 200 * (TOKENS - 1)
    assert s.to_json()["shares"][0]["where"]


def test_a_node_lost_mid_run_is_reported_and_the_run_finishes(cluster: Any, truth_url: str) -> None:
    extra = cluster.add_node(num_cpus=1, resources={"doomed": 1})
    cluster.wait_for_nodes()
    config = LoadConfig(
        truth_url, requests=600, concurrency=6, max_tokens=TOKENS, ray=cluster.address, workers=None
    )
    removed = False

    def lose_a_node(progress: Any) -> None:
        nonlocal removed
        if not removed and progress.done >= 60:
            cluster.remove_node(extra)
            removed = True

    _, s = _run(config, lose_a_node)
    assert removed and s.workers == 3
    assert len(s.worker_losses) == 1, s.worker_losses
    assert s.lost > 0
    assert s.succeeded + s.failed + s.lost == 600
    survivors = [share for share in s.shares if share.error is None]
    assert len(survivors) == 2 and all(sh.succeeded == sh.planned for sh in survivors)


def test_bench_without_ray_says_how_to_install_it(truth_url: str, tmp_path: Path) -> None:
    """Run in an interpreter where `ray` cannot be imported: one line, exit 2."""
    blocker = tmp_path / "ray.py"
    blocker.write_text("raise ImportError('no ray here')\n")
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "bench", "--url", truth_url, "--ray", "local", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install" in lines[0] and "cluster" in lines[0], done.stderr
