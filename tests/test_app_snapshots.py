"""Layout snapshots of the main screen with seeded data: at 80x24, 120x36 (the smallest full
layout) and 160x48.

Update after eyeballing the report: pytest tests/test_app_snapshots.py --snapshot-update
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.seeded_app import seed, seeded_app


async def _seed(pilot: Any) -> None:
    seed(pilot.app)
    await pilot.pause()
    pilot.app.refresh_panels()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 36), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(), terminal_size=size, run_before=_seed)


def test_main_screen_compact_charts(snap_compare: Any) -> None:
    assert snap_compare(seeded_app(), terminal_size=(80, 24), run_before=_seed, press=["c"])
