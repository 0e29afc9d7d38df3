"""GPU and process sampling on this machine: no NVML here, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from engine.device_sampler import DeviceSampler
from engine.gpu import Nvml
from tests.helpers import FakeClock, wait_until


def test_no_nvml_is_a_state_with_a_reason_not_an_error() -> None:
    nvml = Nvml()
    if nvml.available:  # a machine with a GPU: the state is the other one
        assert nvml.sample() and nvml.reason is None
        return
    assert nvml.reason is not None and nvml.reason.startswith("no GPU")
    assert nvml.sample() == []
    nvml.close()


def test_process_tree_cpu_and_memory_of_real_processes() -> None:
    # A parent that spawns a busy child, like vLLM's API server and its engine core.
    code = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'while True: pass']); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    clock = FakeClock()
    try:
        assert wait_until(lambda: len(psutil.Process(parent.pid).children()) == 1, 10)
        sampler = DeviceSampler(root_pid=lambda: parent.pid, clock=clock)
        first = sampler.sample_once()
        assert first.tree is not None and len(first.tree.processes) == 2
        assert first.tree.rss_bytes > 0
        # cpu_percent needs a previous reading: unknown at first, never a made-up 0.
        assert all(p.cpu_percent is None for p in first.tree.processes)
        time.sleep(0.5)
        clock.advance(1)
        second = sampler.sample_once()
        assert second.tree is not None and second.at == first.at + 1
        roles = {p.role for p in second.tree.processes}
        assert "APIServer" in roles
        busy = second.tree.cpu_percent
        assert busy is not None and busy > 50  # the spinning child
        assert second.gpus == () or second.gpu_available
        assert len(sampler.history) >= 2
    finally:
        for child in psutil.Process(parent.pid).children(recursive=True):
            child.kill()
        parent.kill()
        parent.wait()


def test_background_thread_keeps_a_latest_sample() -> None:
    sampler = DeviceSampler(root_pid=os.getpid, interval=0.05)
    sampler.start()
    try:
        deadline = time.monotonic() + 5
        while len(sampler.history) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        latest = sampler.latest
        assert latest is not None and latest.tree is not None
        assert os.getpid() in {p.pid for p in latest.tree.processes}
    finally:
        sampler.stop()


def test_a_gone_process_is_no_tree_not_a_crash() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    sample = DeviceSampler(root_pid=lambda: proc.pid).sample_once()
    assert sample.tree is None
