"""The command line's argument types and the `bench` command's many options (tui.cli builds
the parser): a bad value is one line naming it, and exit code 2."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from tui.commands.errors import EXIT_USAGE


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line that says what is wrong is kinder.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def number(
    convert: Callable[[str], float], noun: str, check: Callable[[float], str | None]
) -> Callable[[str], Any]:
    """An argparse type: parse with `convert`; `check` returns what is wrong, or None."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {noun} {text!r}") from None
        problem = check(value)
        if problem:
            raise argparse.ArgumentTypeError(problem.format(text=text, value=value))
        return value

    return parse


port = number(int, "port", lambda v: None if 1 <= v <= 65535 else "port {value} is outside 1-65535")
positive_float = number(
    float, "number", lambda v: None if v > 0 else "{text} must be greater than 0"
)
positive_int = number(
    int, "whole number", lambda v: None if v > 0 else "{text} must be a positive whole number"
)
non_negative_int = number(
    int, "whole number", lambda v: None if v >= 0 else "{text} must be 0 or more"
)
non_negative_float = number(
    float, "number", lambda v: None if v >= 0 else "{text} must be 0 or more"
)
fraction = number(
    float, "number", lambda v: None if 0 <= v <= 1 else "{text} is not a fraction between 0 and 1"
)


def add_bench(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    bench = sub.add_parser(
        "bench",
        parents=[common],
        help="fire a load at a server and report TTFT, TPOT, ITL, E2E and throughput",
        description=(
            "Send N requests at concurrency C (a burst), or at a rate R, for a number of "
            "requests or a duration; or sweep concurrencies. Metrics use vLLM's benchmark "
            "definitions; token counts come from the server's usage."
        ),
        epilog="example: vllm-top bench --url http://127.0.0.1:8000/v1 -n 200 -c 16",
    )
    bench.add_argument("--url", required=True, help="server URL, with or without /v1")
    bench.add_argument("-n", "--requests", type=positive_int, help="requests (default 100)")
    bench.add_argument(
        "-c", "--concurrency", type=positive_int, help="requests in flight at most (default 10)"
    )
    bench.add_argument("--rate", type=positive_float, help="arrival rate, requests per second")
    bench.add_argument(
        "--arrival",
        choices=["poisson", "constant"],
        default="poisson",
        help="arrival process with --rate (default poisson)",
    )
    bench.add_argument("--duration", type=positive_float, help="stop sending after S seconds")
    bench.add_argument(
        "--sweep", metavar="C1,C2,...", help="run once per concurrency, e.g. 1,2,4,8,16"
    )
    bench.add_argument(
        "--endpoint",
        choices=["chat", "completions"],
        help="/v1/chat/completions or /v1/completions (default chat, or as the payload says)",
    )
    bench.add_argument("--model", help="model name (default: the first of /v1/models)")
    bench.add_argument("--max-tokens", type=positive_int, help="max tokens (default 128)")
    bench.add_argument("--temperature", type=float, help="sampling temperature")
    bench.add_argument("--ignore-eos", action="store_true", help="always generate max tokens")
    bench.add_argument("--prompt", help="prompt text (default: a short English question)")
    bench.add_argument("--payload", help="JSON file: a request body, or a list of bodies")
    bench.add_argument("--no-stream", action="store_true", help="non-streaming requests")
    bench.add_argument("--api-key", help="Bearer key (default: $OPENAI_API_KEY)")
    bench.add_argument(
        "--stall-timeout",
        type=positive_float,
        default=600.0,
        help="fail a request after this many seconds without data (default 600)",
    )
    bench.add_argument(
        "--seed", type=int, default=0, help="seed of the Poisson arrivals and of the workload"
    )
    bench.add_argument(
        "--workers",
        type=positive_int,
        help="load processes sharing the run (default: one per 128 streams, leaving a core; "
        "with --ray: --workers-per-node on every node)",
    )
    bench.add_argument(
        "--ray",
        metavar="ADDRESS|auto|local",
        help="run the workers as actors on a Ray cluster (needs the cluster extra)",
    )
    bench.add_argument(
        "--workers-per-node", type=positive_int, default=1, help="with --ray (default 1)"
    )
    shape = bench.add_argument_group(
        "workload (prompts of exact lengths in the server's tokens, via its /tokenize)"
    )
    shape.add_argument("--input-len", metavar="N|LO:HI", help="prompt tokens per request")
    shape.add_argument(
        "--output-len", metavar="N|LO:HI", help="output tokens, forced (ignore_eos + max_tokens)"
    )
    shape.add_argument(
        "--prefix-len", type=non_negative_int, default=0, help="a shared leading part, tokens"
    )
    shape.add_argument(
        "--prefix-groups", type=positive_int, default=1, help="distinct shared prefixes"
    )
    shape.add_argument(
        "--turns", type=positive_int, default=1, help="conversations of T turns (chat)"
    )
    shape.add_argument(
        "--think-time", type=non_negative_float, default=0.0, help="seconds between turns"
    )
    shape.add_argument("--dataset", help="local ShareGPT-format JSON or JSON lines file")
    target = bench.add_argument_group("SLO, search and repeats")
    target.add_argument(
        "--slo", metavar="ttft=1s,tpot=50ms,...", help="latency targets: attainment and goodput"
    )
    target.add_argument(
        "--find-max",
        choices=["concurrency", "rate"],
        help="find the most load whose SLO attainment meets --target",
    )
    target.add_argument(
        "--target", type=fraction, default=0.99, help="attainment to meet (default 0.99)"
    )
    target.add_argument(
        "--resolution",
        type=positive_float,
        help="stop the search when the bracket is this narrow (default 1, or 10%% for rates)",
    )
    target.add_argument(
        "--max-load", type=positive_float, default=1024.0, help="the search's ceiling"
    )
    target.add_argument(
        "--probe-requests",
        type=positive_int,
        default=50,
        help="requests a probe runs at least (more, pooled, until it can decide; default 50)",
    )
    target.add_argument("--repeat", type=positive_int, default=1, help="K runs, with their spread")
    bench.add_argument("--json", help="write the results as JSON to this file")
    bench.add_argument("--csv", help="write one row per request to this CSV file")
    bench.add_argument(
        "--min-success",
        type=fraction,
        default=0.0,
        help="exit 1 when the success rate is below this fraction (e.g. 0.99)",
    )
    bench.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
