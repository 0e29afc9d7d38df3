"""The floors of the house, as import-linter contracts (pyproject.toml [tool.importlinter]):
engine knows no load generator and no UI, loadgen no UI, the screenless commands no Textual,
widgets only draw. Checked statically here (deferred imports inside functions included);
tests/test_import_hygiene.py checks the same at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_every_contract_is_kept() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("where", "line", "contract"),
    [
        ("engine/_planted.py", "from tui import app", "engine is the headless core"),
        ("loadgen/_planted.py", "def f():\n    import textual", "loadgen stands on engine"),
        ("tui/commands/_planted.py", "import textual.app", "commands without a screen"),
        ("tui/widgets/_planted.py", "from engine import metrics", "widgets only draw"),
        ("loadgen/_planted.py", "import ray", "Ray stays an optional extra"),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, where: str, line: str, contract: str
) -> None:
    for package in ("engine", "loadgen", "tui"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / where).write_text(line + "\n")
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout
    broken = [ln for ln in done.stdout.splitlines() if " BROKEN" in ln]
    assert len(broken) == 1 and contract in broken[0], done.stdout
