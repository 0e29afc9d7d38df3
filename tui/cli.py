"""The `vllm-top` command line.

Kept light on purpose: `vllm-top --help` imports nothing but argparse, and each command imports
what it needs when it runs. Bad input ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from tui.commands.errors import EXIT_USAGE, UsageError
from tui.commands.settings import ServeSettings, api_key_from


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line that says what is wrong is kinder.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(
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


_port = _number(
    int, "port", lambda v: None if 1 <= v <= 65535 else "port {value} is outside 1-65535"
)
_positive_float = _number(
    float, "number", lambda v: None if v > 0 else "{text} must be greater than 0"
)
_positive_int = _number(
    int, "whole number", lambda v: None if v > 0 else "{text} must be a positive whole number"
)
_non_negative_int = _number(
    int, "whole number", lambda v: None if v >= 0 else "{text} must be 0 or more"
)
_non_negative_float = _number(
    float, "number", lambda v: None if v >= 0 else "{text} must be 0 or more"
)
_fraction = _number(
    float, "number", lambda v: None if 0 <= v <= 1 else "{text} is not a fraction between 0 and 1"
)


class _Version(argparse.Action):
    """--version, read from the installed package's metadata only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("vllm-top")
        except PackageNotFoundError:
            text = "unknown (not installed)"
        print(f"vllm-top {text}")
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vllm-top",
        description="A terminal cockpit for vLLM: launch or attach, watch, and load-test.",
        epilog="vllm-top's own log (for bug reports): ~/.local/state/vllm-top/vllm-top.log",
    )
    parser.add_argument("--version", action=_Version)
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="write more detail to vllm-top's own log"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="launch and supervise a vLLM server",
        description=(
            "Launch a vLLM OpenAI-compatible server and supervise it. "
            "Arguments after `--` go to vLLM unchanged."
        ),
        epilog="example: vllm-top serve --demo --headless",
    )
    serve.add_argument("model", nargs="?", help="model path or Hugging Face id")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="serve the embedded tiny demo model (built offline, cached)",
    )
    serve.add_argument(
        "--headless", action="store_true", help="no UI: print phases, then stream the log"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--python",
        default=sys.executable,
        help="Python interpreter that has vLLM installed (default: this one)",
    )
    serve.add_argument("--log-dir", help="where server logs are written (default: XDG state dir)")
    serve.add_argument(
        "--startup-timeout",
        type=_positive_float,
        default=900.0,
        help="give up if the server is not ready after this many seconds (default 900)",
    )
    serve.add_argument(
        "--keep-server", action="store_true", help="leave vLLM running when the dashboard quits"
    )
    serve.add_argument(
        "--share",
        action="store_true",
        help=(
            "open a public ngrok URL (token from $NGROK_AUTHTOKEN) in front of the server's /v1, "
            "API key required (generated and shown once unless $VLLM_API_KEY or --api-key set)"
        ),
    )
    serve.add_argument("--config", help="dashboard config file (default: XDG config dir)")
    serve.add_argument(
        "--ray",
        metavar="ADDRESS|auto",
        help="the dashboard's Device panel also shows every node of this Ray cluster (for "
        "`-- --distributed-executor-backend ray`; needs the cluster extra)",
    )
    serve.add_argument(
        "--stop-grace",
        type=_positive_float,
        default=15.0,
        help="seconds between SIGTERM and SIGKILL when stopping (default 15)",
    )
    attach = sub.add_parser(
        "attach",
        parents=[common],
        help="watch a vLLM server started elsewhere",
        epilog="examples: vllm-top attach http://gpu-box:8000/v1 ; "
        "vllm-top attach http://a:8000 http://b:8000 ; vllm-top attach --fleet fleet.toml",
    )
    attach.add_argument(
        "url",
        nargs="*",
        help="server URL, with or without /v1; several open the fleet screen",
    )
    attach.add_argument(
        "--fleet", metavar="FILE", help="a TOML fleet file: [[endpoint]] name, url, ... "
    )
    attach.add_argument(
        "--ray",
        metavar="ADDRESS|auto",
        help="also show every node of this Ray cluster: its GPUs and vLLM processes, from an "
        "observer on each node (needs the cluster extra)",
    )
    attach.add_argument("--api-key", help="Bearer key (default: $OPENAI_API_KEY)")
    attach.add_argument("--config", help="dashboard config file (default: XDG config dir)")
    _add_bench(sub, common)
    compare = sub.add_parser(
        "compare",
        parents=[common],
        help="compare bench results (--json files): deltas and a verdict per figure",
        epilog="example: vllm-top compare before.json after.json --fail-on ttft_p99=+10%%",
    )
    compare.add_argument("files", nargs="+", help="bench --json files; the first is the baseline")
    compare.add_argument(
        "--fail-on",
        metavar="FIGURE=+N%,...",
        help="exit 1 on such a change, e.g. ttft_p99=+10%%,output_throughput=-5%%",
    )
    compare.add_argument(
        "--threshold",
        type=_fraction,
        help="what counts as noise without --repeat spreads (default 0.05)",
    )
    snapshot = sub.add_parser(
        "snapshot",
        parents=[common],
        help="print one JSON object describing a server's state, KV cache, queues and GPUs",
        epilog="example: vllm-top snapshot --url http://127.0.0.1:8000 --json",
    )
    snapshot.add_argument(
        "--url",
        action="append",
        default=[],
        help="server URL, with or without /v1; repeat it for a JSON list, one object each",
    )
    snapshot.add_argument("--fleet", metavar="FILE", help="a TOML fleet file (a JSON list)")
    snapshot.add_argument("--api-key", help="Bearer key for /v1/models (default: $OPENAI_API_KEY)")
    snapshot.add_argument(
        "--json", action="store_true", help="JSON output (the only format, for scripts)"
    )
    snapshot.add_argument("--pretty", action="store_true", help="indent the JSON")
    snapshot.add_argument(
        "--timeout", type=_positive_float, default=5.0, help="seconds per request (default 5)"
    )
    return parser


def _add_bench(
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
    bench.add_argument("-n", "--requests", type=_positive_int, help="requests (default 100)")
    bench.add_argument(
        "-c", "--concurrency", type=_positive_int, help="requests in flight at most (default 10)"
    )
    bench.add_argument("--rate", type=_positive_float, help="arrival rate, requests per second")
    bench.add_argument(
        "--arrival",
        choices=["poisson", "constant"],
        default="poisson",
        help="arrival process with --rate (default poisson)",
    )
    bench.add_argument("--duration", type=_positive_float, help="stop sending after S seconds")
    bench.add_argument(
        "--sweep", metavar="C1,C2,...", help="run once per concurrency, e.g. 1,2,4,8,16"
    )
    bench.add_argument(
        "--endpoint",
        choices=["chat", "completions"],
        help="/v1/chat/completions or /v1/completions (default chat, or as the payload says)",
    )
    bench.add_argument("--model", help="model name (default: the first of /v1/models)")
    bench.add_argument("--max-tokens", type=_positive_int, help="max tokens (default 128)")
    bench.add_argument("--temperature", type=float, help="sampling temperature")
    bench.add_argument("--ignore-eos", action="store_true", help="always generate max tokens")
    bench.add_argument("--prompt", help="prompt text (default: a short English question)")
    bench.add_argument("--payload", help="JSON file: a request body, or a list of bodies")
    bench.add_argument("--no-stream", action="store_true", help="non-streaming requests")
    bench.add_argument("--api-key", help="Bearer key (default: $OPENAI_API_KEY)")
    bench.add_argument(
        "--stall-timeout",
        type=_positive_float,
        default=600.0,
        help="fail a request after this many seconds without data (default 600)",
    )
    bench.add_argument(
        "--seed", type=int, default=0, help="seed of the Poisson arrivals and of the workload"
    )
    bench.add_argument(
        "--workers",
        type=_positive_int,
        help="load processes sharing the run (default: one per 128 streams, leaving a core; "
        "with --ray: --workers-per-node on every node)",
    )
    bench.add_argument(
        "--ray",
        metavar="ADDRESS|auto|local",
        help="run the workers as actors on a Ray cluster (needs the cluster extra)",
    )
    bench.add_argument(
        "--workers-per-node", type=_positive_int, default=1, help="with --ray (default 1)"
    )
    shape = bench.add_argument_group(
        "workload (prompts of exact lengths in the server's tokens, via its /tokenize)"
    )
    shape.add_argument("--input-len", metavar="N|LO:HI", help="prompt tokens per request")
    shape.add_argument(
        "--output-len", metavar="N|LO:HI", help="output tokens, forced (ignore_eos + max_tokens)"
    )
    shape.add_argument(
        "--prefix-len", type=_non_negative_int, default=0, help="a shared leading part, tokens"
    )
    shape.add_argument(
        "--prefix-groups", type=_positive_int, default=1, help="distinct shared prefixes"
    )
    shape.add_argument(
        "--turns", type=_positive_int, default=1, help="conversations of T turns (chat)"
    )
    shape.add_argument(
        "--think-time", type=_non_negative_float, default=0.0, help="seconds between turns"
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
        "--target", type=_fraction, default=0.99, help="attainment to meet (default 0.99)"
    )
    target.add_argument(
        "--resolution",
        type=_positive_float,
        help="stop the search when the bracket is this narrow (default 1, or 10%% for rates)",
    )
    target.add_argument(
        "--max-load", type=_positive_float, default=1024.0, help="the search's ceiling"
    )
    target.add_argument(
        "--probe-requests",
        type=_positive_int,
        default=50,
        help="requests a probe runs at least (more, pooled, until it can decide; default 50)",
    )
    target.add_argument("--repeat", type=_positive_int, default=1, help="K runs, with their spread")
    bench.add_argument("--json", help="write the results as JSON to this file")
    bench.add_argument("--csv", help="write one row per request to this CSV file")
    bench.add_argument(
        "--min-success",
        type=_fraction,
        default=0.0,
        help="exit 1 when the success rate is below this fraction (e.g. 0.99)",
    )
    bench.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _need_terminal(command: str, hint: str) -> None:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(f"the dashboard needs a terminal (stdin and stdout are not one); {hint}")


def _own_log(redact: Callable[[str], str], args: argparse.Namespace) -> None:
    import os

    from engine.applog import setup
    from engine.tunnel import TOKEN_ENV

    def masked(text: str) -> str:  # the ngrok token too, whatever the command
        token = os.environ.get(TOKEN_ENV)
        return redact(text.replace(token, "***") if token else text)

    setup(masked, debug=args.debug)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first `--` belongs to vLLM, flags included.
    vllm_args: list[str] = []
    if "--" in args_in:
        cut = args_in.index("--")
        args_in, vllm_args = args_in[:cut], args_in[cut + 1 :]
    parser = build_parser()
    args = parser.parse_args(args_in)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "serve":
            settings = ServeSettings.from_args(args, tuple(vllm_args))
            _own_log(settings.redactor(), args)
            settings.validate()
            if args.ray:
                from tui.commands.fleet import check_ray

                if settings.headless:
                    raise UsageError("--ray needs the dashboard (not --headless)")
                check_ray()
            if settings.headless:
                from tui.commands.headless import run_headless

                return run_headless(settings)
            _need_terminal("serve", "or use --headless")
            from tui.dashboard import run_dashboard_serve

            return run_dashboard_serve(settings, args.config, args.ray)
        api_key = api_key_from(args)
        from engine.redact import Redactor

        _own_log(Redactor([api_key]), args)
        if args.command == "attach":
            from tui.commands.fleet import fleet_members

            members = fleet_members(args.url, args.fleet, api_key, always=bool(args.ray))
            if args.ray:
                from tui.commands.fleet import check_ray

                check_ray()
            if members is None:
                from tui.commands.settings import check_attach_target

                check_attach_target(args.url[0], api_key)
            _need_terminal("attach", "or use vllm-top snapshot --json for a script")
            if members is not None:
                from tui.dashboard import run_dashboard_fleet

                return run_dashboard_fleet(members, args.config, args.ray)
            from tui.dashboard import run_dashboard_attach

            return run_dashboard_attach(args.url[0], api_key, args.config)
        if args.command == "snapshot":
            from tui.commands.snapshot import run_snapshot

            return run_snapshot(args)
        if args.command == "bench":
            from tui.commands.bench import run_bench

            return run_bench(args)
        if args.command == "compare":
            from tui.commands.compare import run_compare

            return run_compare(args)
    except UsageError as exc:
        print(f"vllm-top {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
