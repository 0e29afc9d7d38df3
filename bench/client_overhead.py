"""Client overhead of load generators against a server with programmed timings.

    python -m bench.client_overhead [--concurrency 64,256,512] [--tokens 64] [--waves 6]
                                    [--repeat 3] [--server step|truth] [--clients ...]

The server runs pinned to CPU 1 and streams one token per SSE chunk (as vLLM does by default),
every `itl` seconds after a `ttft` of 200 ms; it records when it really wrote each first token.
By default it is bench/step_server.py: every stream's token of an engine step written together,
as vLLM's engine and API server do, fast enough that the client is what is measured.
`--server truth` runs tests/truth_server.py instead (aiohttp, each stream on its own clock): it
writes about 12,000 chunks a second, so past ~200 streams it is the bottleneck, its writes
spread over the step and every client wakes up once per chunk, whatever its own cost.

Each client runs in its own process pinned to CPU 0, twice: one wave of C requests at
concurrency C, then `waves` waves. CPU per chunk is the difference of the two runs' CPU (user +
system, measured inside the process around the run only) over the difference of their chunks,
so imports, connection set-up and the first wave cancel out. TTFT error is the one-wave run's
client TTFT percentile minus the server's own record. Each client is measured `repeat` times,
the clients interleaved; the table gives the median run and every run's CPU per chunk.

- vllm-top:   loadgen.runner.run_load on uvloop, as its load processes run it (this project)
- prototype:  the original script's shape: asyncio + aiohttp + Semaphore with aiohttp's default
              session (100-connection pool, 300 s total timeout), line iteration, one token per
              `data:` line
- vllm-bench: vLLM's own client, vllm.benchmarks.lib.endpoint_request_func (if it imports)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.step_server import SERVERS

ROOT = Path(__file__).parent.parent
CLIENTS = ("vllm-top", "prototype", "vllm-bench")
PROMPT = "Explain the KV cache."


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


# ---- the clients, each run in its own pinned process ------------------------------------------


async def _vllm_top(url: str, n: int, c: int, tokens: int) -> dict[str, Any]:
    from loadgen.config import LoadConfig
    from loadgen.runner import run_load

    config = LoadConfig(url, requests=n, concurrency=c, max_tokens=tokens, model="truth-model")
    result = await run_load(config)
    ok = [r for r in result.records if r.ok]
    return {
        "ok": len(ok),
        "ttfts": [r.ttft for r in ok],
        "tokens": sum(r.output_tokens or 0 for r in ok),
    }


async def _prototype(url: str, n: int, c: int, tokens: int) -> dict[str, Any]:
    import aiohttp

    sem = asyncio.Semaphore(c)
    ttfts: list[float] = []
    counted = 0
    ok = 0
    body = {
        "model": "truth-model",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": tokens,
        "stream": True,
    }

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal counted, ok
        async with sem:
            start = time.perf_counter()
            first = None
            async with session.post(url + "/v1/chat/completions", json=body) as resp:
                async for line in resp.content:
                    if line.startswith(b"data:") and b"[DONE]" not in line:
                        if first is None:
                            first = time.perf_counter() - start
                        counted += 1  # the prototype's "tokens"
            if first is not None:
                ttfts.append(first)
                ok += 1

    async with aiohttp.ClientSession() as session:  # aiohttp's defaults, as the prototype had
        await asyncio.gather(*(one(session) for _ in range(n)), return_exceptions=True)
    return {"ok": ok, "ttfts": ttfts, "tokens": counted}


async def _vllm_bench(url: str, n: int, c: int, tokens: int) -> dict[str, Any]:
    import aiohttp
    from vllm.benchmarks.lib.endpoint_request_func import (
        RequestFuncInput,
        async_request_openai_chat_completions,
    )

    sem = asyncio.Semaphore(c)
    connector = aiohttp.TCPConnector(limit=c, limit_per_host=c, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=6 * 3600)

    async def one(session: aiohttp.ClientSession) -> Any:
        async with sem:
            inp = RequestFuncInput(
                prompt=PROMPT,
                api_url=url + "/v1/chat/completions",
                prompt_len=4,
                output_len=tokens,
                model="truth-model",
            )
            return await async_request_openai_chat_completions(inp, session)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        outs = await asyncio.gather(*(one(session) for _ in range(n)))
    ok = [o for o in outs if o.success]
    return {
        "ok": len(ok),
        "ttfts": [o.ttft for o in ok],
        "tokens": sum(o.output_tokens for o in ok),
    }


def run_client(name: str, url: str, n: int, c: int, tokens: int) -> None:
    # Imports happen before the clock starts: only the run itself is measured.
    import aiohttp  # noqa: F401

    import loadgen.runner  # noqa: F401

    if name == "vllm-bench":
        import vllm.benchmarks.lib.endpoint_request_func  # noqa: F401
    fn = {"vllm-top": _vllm_top, "prototype": _prototype, "vllm-bench": _vllm_bench}[name]
    run: Any = asyncio.run
    if name == "vllm-top":
        import uvloop

        run = uvloop.run
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = run(fn(url, n, c, tokens))
    result["cpu_s"] = time.process_time() - cpu0
    result["wall_s"] = time.perf_counter() - wall0
    print(json.dumps(result))


# ---- the driver ------------------------------------------------------------------------------


def _pinned(cpu: int) -> Any:
    return lambda: os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


def _server_ttfts(url: str) -> list[float]:
    with urllib.request.urlopen(url + "/truth/stats", timeout=10) as resp:
        ttfts: list[float] = json.load(resp)["ttfts"]
        return ttfts


def _client_run(name: str, url: str, n: int, c: int, tokens: int) -> dict[str, Any] | str:
    done = subprocess.run(
        [sys.executable, "-m", "bench.client_overhead", "--run-client", name, "--url", url,
         "-n", str(n), "-c", str(c), "--tokens", str(tokens)],
        cwd=ROOT, capture_output=True, text=True, preexec_fn=_pinned(0), timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["?"])[-1][:60]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _measure(name: str, url: str, c: int, tokens: int, waves: int) -> dict[str, Any]:
    """One client's CPU per chunk (waves minus one wave) and TTFT error (the one-wave run)."""
    _server_ttfts(url)  # reset
    one = _client_run(name, url, c, c, tokens)
    truth = _server_ttfts(url)
    many = _client_run(name, url, c * waves, c, tokens)
    if isinstance(one, str) or isinstance(many, str):
        return {"failed": one if isinstance(one, str) else many}
    chunks = (many["ok"] - one["ok"]) * tokens
    return {
        "ok": many["ok"],
        "tokens": many["tokens"],
        "per_chunk": (many["cpu_s"] - one["cpu_s"]) / max(chunks, 1),
        "err50": (_pct(one["ttfts"], 50) - _pct(truth, 50)) * 1000 if one["ttfts"] else 0.0,
        "err99": (_pct(one["ttfts"], 99) - _pct(truth, 99)) * 1000 if one["ttfts"] else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", default="64,256,512")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--itl", type=float, default=0.05)
    parser.add_argument("--ttft", type=float, default=0.2)
    parser.add_argument("--waves", type=int, default=6)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per client; the table shows the median"
    )
    parser.add_argument(
        "--server",
        choices=SERVERS,
        default="step",
        help="step: bench.step_server, every stream's token of an engine step written together "
        "(as vLLM does); truth: tests.truth_server, each stream on its own clock (aiohttp, "
        "about 12k chunks/s: the server is the bottleneck and clients wake once per chunk)",
    )
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--port", type=int, default=8977)
    parser.add_argument("--run-client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("-n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("-c", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_client:
        run_client(args.run_client, args.url, args.n, args.c, args.tokens)
        return

    url = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen(
        [sys.executable, "-m", SERVERS[args.server], "--port", str(args.port), "--ttft",
         str(args.ttft), "--itl", str(args.itl), "--tokens", str(args.tokens)],
        cwd=ROOT, stdout=subprocess.DEVNULL, preexec_fn=_pinned(1),
    )  # fmt: skip
    time.sleep(2)
    print(
        f"truth: TTFT {args.ttft * 1000:.0f} ms, one token per chunk every "
        f"{args.itl * 1000:.0f} ms, {args.tokens} tokens per request ({SERVERS[args.server]}); "
        "client on CPU 0, "
        f"server on CPU 1; CPU per chunk = ({args.waves} waves - 1 wave) / chunks\n"
    )
    print(
        f"{'streams':>7} {'client':<11}{'ok':>6}{'CPU/chunk':>11}{'(runs)':>20}"
        f"{'chunks/s/core':>15}{'TTFT p50 err':>14}{'TTFT p99 err':>14}{'tokens counted':>18}"
    )
    try:
        for c in [int(x) for x in args.concurrency.split(",")]:
            runs: dict[str, list[dict[str, Any]]] = {}
            # Interleaved (every client once, then again): the VM's drift falls on all alike.
            for _ in range(args.repeat):
                for name in args.clients.split(","):
                    runs.setdefault(name, []).append(
                        _measure(name, url, c, args.tokens, args.waves)
                    )
            for name, measured in runs.items():
                failed = [m["failed"] for m in measured if "failed" in m]
                if failed:
                    print(f"{c:>7} {name:<11} failed: {failed[0]}")
                    continue
                mid = sorted(measured, key=lambda m: m["per_chunk"])[len(measured) // 2]
                each = "/".join(f"{m['per_chunk'] * 1e6:.0f}" for m in measured)
                print(
                    f"{c:>7} {name:<11}{mid['ok']:>6}{mid['per_chunk'] * 1e6:>8.1f} us{each:>20}"
                    f"{1 / max(mid['per_chunk'], 1e-9):>15,.0f}{mid['err50']:>+11.1f} ms"
                    f"{mid['err99']:>+11.1f} ms{mid['tokens']:>10,} / {mid['ok'] * args.tokens:,}"
                )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
