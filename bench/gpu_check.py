"""What vllm-top's NVML layer sees on a machine with NVIDIA GPUs, checked against a process
whose GPU memory is known, with no vLLM needed.

    python -m bench.gpu_check [--mib 1024] [--out gpu_check.json]

It starts a child that allocates --mib MiB on GPU 0 through the CUDA driver library (ctypes,
libcuda.so.1: no torch, no CUDA toolkit), then prints as JSON what engine.gpu.Nvml reports:
every GPU's memory, utilisation, power and energy counter, and whether the child was found
among GPU 0's processes with its memory attributed. Last it opens `vllm-top attach` (on a
truth server) in tmux and keeps the dashboard's screen, device panel included. Exit 0 when the
child is found with at least the memory it holds, 1 when not, 2 when there is no GPU or no
CUDA driver (said in the JSON's `reason`).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from engine.gpu import Nvml

ROOT = Path(__file__).parent.parent
HOLD_S = 120.0


def hold(mib: int, ready: Path) -> None:
    """The child: a CUDA context on GPU 0 and `mib` MiB allocated, held until killed."""
    cuda = ctypes.CDLL("libcuda.so.1")
    device, context, pointer = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
    for call, args in (
        ("cuInit", (0,)),
        ("cuDeviceGet", (ctypes.byref(device), 0)),
        ("cuCtxCreate_v2", (ctypes.byref(context), 0, device)),
        ("cuMemAlloc_v2", (ctypes.byref(pointer), ctypes.c_size_t(mib * 2**20))),
    ):
        code = getattr(cuda, call)(*args)
        if code != 0:
            ready.write_text(json.dumps({"error": f"{call} returned CUDA error {code}"}))
            return
    ready.write_text(json.dumps({"pid": os.getpid(), "mib": mib}))
    time.sleep(HOLD_S)


def dashboard_screen(timeout: float = 60.0) -> str:
    """`vllm-top attach` on a truth server, in tmux at 160x48: its screen once drawn."""
    from bench.terminal import tmux, wait_screen
    from tests.helpers import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.truth_server", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    session = f"gpu-check-{os.getpid()}"
    try:
        time.sleep(2)
        command = f"{sys.executable} -m tui.cli attach http://127.0.0.1:{port}"
        tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", "-c", str(ROOT), command)
        return wait_screen(session, r"GPU|Device|device", timeout)
    except Exception as exc:  # tmux missing, or the screen never came: say so in the JSON
        return f"(no screen: {exc})"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        server.terminate()
        server.wait(10)


def check(mib: int, with_screen: bool) -> tuple[int, dict[str, Any]]:
    nvml = Nvml()
    out: dict[str, Any] = {"nvml_available": nvml.available, "reason": nvml.reason}
    if not nvml.available:
        return 2, out
    ready = Path(f"/tmp/vllm-top-gpu-check-{os.getpid()}.json")
    ready.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.gpu_check", "--hold", str(mib), "--ready", str(ready)],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.2)
        held = json.loads(ready.read_text()) if ready.exists() else {"error": "child never ready"}
        out["child"] = held
        if "error" in held:
            out["reason"] = held["error"]
            return 2, out
        time.sleep(2)  # NVML's utilisation and power are averaged over its last period
        gpus = nvml.sample()
        out["gpus"] = [g.to_json() for g in gpus]
        found = [p for g in gpus[:1] for p in g.processes if p.pid == held["pid"]]
        attributed = found[0].used_bytes if found else None
        out["child_found"] = bool(found)
        out["child_used_bytes"] = attributed
        ok = attributed is not None and attributed >= mib * 2**20
        if with_screen:
            out["dashboard"] = dashboard_screen().splitlines()
        return (0 if ok else 1), out
    finally:
        child.kill()
        child.wait(10)
        ready.unlink(missing_ok=True)
        nvml.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="GPU memory the child holds")
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("--no-screen", action="store_true", help="skip the tmux dashboard")
    parser.add_argument("--hold", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--ready", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold is not None:
        hold(args.hold, Path(args.ready))
        return 0
    code, out = check(args.mib, not args.no_screen)
    out["exit_code"] = code
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
