"""The headless core never pulls in the UI, and vllm-top never imports vLLM or torch.

Checked in a fresh interpreter per module, so deferred imports are caught too.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import engine
import loadgen
import tui.commands

FORBIDDEN_IN_CORE = ("textual", "vllm", "torch", "transformers")


def _modules(package: object) -> list[str]:
    name = package.__name__  # type: ignore[attr-defined]
    path = package.__path__  # type: ignore[attr-defined]
    found = [name]
    for info in pkgutil.walk_packages(path, prefix=name + "."):
        # build_model.py is run by vLLM's own Python as a script, never imported by vllm-top.
        if not info.name.endswith("build_model"):
            found.append(info.name)
    return found


def _imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {m.split(".")[0] for m in out.split()}


@pytest.mark.parametrize("module", _modules(engine) + _modules(loadgen))
def test_core_module_imports_no_ui_and_no_vllm(module: str) -> None:
    leaked = _imported_after(module) & set(FORBIDDEN_IN_CORE)
    assert not leaked, f"{module} imports {sorted(leaked)}"


@pytest.mark.parametrize("module", _modules(tui.commands))
def test_commands_without_a_screen_import_no_ui(module: str) -> None:
    # `serve --headless`, `bench` and `snapshot` run where no terminal UI is wanted.
    leaked = _imported_after(module) & set(FORBIDDEN_IN_CORE)
    assert not leaked, f"{module} imports {sorted(leaked)}"


def test_command_line_entry_stays_light() -> None:
    # `vllm-top --help` must answer at once: the CLI module imports neither Textual nor vLLM.
    leaked = _imported_after("tui.cli") & {"textual", "vllm", "torch", "aiohttp", "psutil"}
    assert not leaked
