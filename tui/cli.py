"""The `vllm-top` command line.

Kept light on purpose: `vllm-top --help` imports nothing but argparse, and each command imports
what it needs when it runs. Bad input ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tui.cli_args import (
    Parser,
    add_bench,
    fraction,
    port,
    positive_float,
)
from tui.commands.errors import EXIT_USAGE, UsageError
from tui.commands.settings import ServeSettings, api_key_from


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
    parser = Parser(
        prog="vllm-top",
        description="A terminal cockpit for vLLM: launch or attach, watch, and load-test.",
        epilog="vllm-top's own log (for bug reports): ~/.local/state/vllm-top/vllm-top.log",
    )
    parser.add_argument("--version", action=_Version)
    common = Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="write more detail to vllm-top's own log"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

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
    serve.add_argument("--port", type=port, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--python",
        default=sys.executable,
        help="Python interpreter that has vLLM installed (default: this one)",
    )
    serve.add_argument("--log-dir", help="where server logs are written (default: XDG state dir)")
    serve.add_argument(
        "--startup-timeout",
        type=positive_float,
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
        type=positive_float,
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
    add_bench(sub, common)
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
        type=fraction,
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
        "--timeout", type=positive_float, default=5.0, help="seconds per request (default 5)"
    )
    return parser


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
