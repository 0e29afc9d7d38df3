"""The `vllm-top` command line.

Kept light on purpose: `vllm-top --help` imports nothing but argparse, and each command imports
what it needs when it runs. Bad input ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from tui.settings import ServeSettings, UsageError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line that says what is wrong is kinder.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 1-65535")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    from tui import __version__

    parser = _Parser(
        prog="vllm-top",
        description="A terminal cockpit for vLLM: launch or attach, watch, and load-test.",
    )
    parser.add_argument("--version", action="version", version=f"vllm-top {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
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
        "--stop-grace",
        type=_positive_float,
        default=15.0,
        help="seconds between SIGTERM and SIGKILL when stopping (default 15)",
    )
    return parser


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
            settings.validate()
            if not settings.headless:
                raise UsageError(
                    "the interactive dashboard is not available in this version; add --headless"
                )
            from tui.headless import run_headless

            return run_headless(settings)
    except UsageError as exc:
        print(f"vllm-top {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())
