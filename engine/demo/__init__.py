"""The embedded demo: a tiny random Llama served by the local vLLM, for machines with no GPU
and no way to download weights. Built once by build_model.py and cached."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from engine.launch import LaunchSpec
from engine.paths import cache_dir

# Bump when build_model.py or corpus.txt change: the cache is keyed on it.
DEMO_VERSION = 1
DEMO_MODEL_NAME = "vllm-top-demo"
DEMO_MAX_MODEL_LEN = 1024
# 16 blocks of 128 tokens = 2,048 tokens of KV cache: a default burst (100 requests at
# concurrency 10) fills it and triggers preemptions, which is the lesson of the demo.
DEMO_KV_BLOCKS = 16
DEMO_BLOCK_SIZE = 128
# vLLM arguments that choose how the model is compiled: when the user gives one, theirs stands.
COMPILATION_ARGS = (
    "--enforce-eager",
    "--no-enforce-eager",
    "--compilation-config",
    "-cc",
    "--optimization-level",
    "-O",
)
_BUILD_SCRIPT = Path(__file__).with_name("build_model.py")
_COMPLETE_MARKER = ".complete"


class DemoBuildError(RuntimeError):
    pass


def demo_model_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / f"demo-model-v{DEMO_VERSION}"


def ensure_demo_model(python: str, root: Path | None = None, timeout: float = 120.0) -> Path:
    """Return the cached demo model directory, building it first if needed.

    Built by `python` (the interpreter that has vLLM, hence numpy, safetensors and tokenizers)
    into a temporary directory that is renamed into place, so an interrupted build never
    leaves a half-written model behind.
    """
    target = demo_model_dir(root)
    if (target / _COMPLETE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-build-", dir=target.parent))
    try:
        done = subprocess.run(
            [python, str(_BUILD_SCRIPT), str(tmp)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            raise DemoBuildError(f"building the demo model failed: {lines[-1]}")
        (tmp / _COMPLETE_MARKER).write_text(f"{DEMO_VERSION}\n")
        if target.exists():  # a stale, incomplete build
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def demo_launch_spec(
    python: str,
    model_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    extra_args: tuple[str, ...] = (),
) -> LaunchSpec:
    args: tuple[str, ...] = (
        "--max-model-len",
        str(DEMO_MAX_MODEL_LEN),
        "--num-gpu-blocks-override",
        str(DEMO_KV_BLOCKS),
        "--block-size",
        str(DEMO_BLOCK_SIZE),
    )
    if not chooses_compilation(extra_args):
        # A random tiny model gains nothing from torch.compile, which was most of its start-up
        # (44 s of 91 s on 2 cores): eager unless the user asks otherwise.
        args += ("--enforce-eager",)
    return LaunchSpec(
        model=str(model_dir),
        python=python,
        host=host,
        port=port,
        served_model_name=DEMO_MODEL_NAME,
        # User arguments come last so they override ours (argparse keeps the last value).
        extra_args=args + extra_args,
        # Without it the CPU backend reserves 92% of RAM for a 2,048-token cache.
        env={"VLLM_CPU_KVCACHE_SPACE": "1"},
    )


def chooses_compilation(vllm_args: tuple[str, ...]) -> bool:
    """Whether the user's own vLLM arguments say how to compile (`-O3`, `-cc.mode=none`,
    `--compilation-config={...}`, `--enforce-eager` ...)."""
    return any(
        arg == flag
        or arg.startswith((flag + "=", flag + "."))
        or (flag == "-O" and arg.startswith("-O"))
        for arg in vllm_args
        for flag in COMPILATION_ARGS
    )
