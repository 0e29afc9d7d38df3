"""Parse vLLM's log line format.

0.32:   (APIServer pid=4242) INFO 11-21 10:00:00 [entry.py:140] message
<=0.10: INFO 09-03 16:28:10 [api_server.py:1882] message
<=0.7:  INFO 01-30 03:18:12 gpu_model_runner.py:848] message
uvicorn (stderr, no prefix): INFO:     Application startup complete.
Anything else (tracebacks, tqdm bars) is kept whole with no level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    NONE = 0
    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50


_VLLM = re.compile(
    r"^(?:\((?P<proc>[\w.-]+) pid=(?P<pid>\d+)\) )?"
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"(?P<ts>\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? "
    r"\[?(?P<src>[^\]\s]+:\d+)\] (?P<msg>.*)$"
)
_UVICORN = re.compile(r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<msg>.*)$")
_ACCESS = re.compile(
    r'^(?P<client>\S+) - "(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})'
)
# The last line of a Python traceback: "OSError: [Errno 98] Address already in use".
_EXCEPTION = re.compile(
    r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b:? ?.*$"
)


# argparse's last word on bad arguments: "api_server.py: error: argument --max-model-len: ...".
_ARGPARSE = re.compile(r"^[\w.-]+: error: .+$")


@dataclass(frozen=True, slots=True)
class ParsedLine:
    level: Level
    process: str | None
    pid: int | None
    source: str | None
    message: str
    access_path: str | None = None
    access_status: int | None = None

    @property
    def is_access_log(self) -> bool:
        return self.access_path is not None


def parse_line(text: str) -> ParsedLine:
    m = _VLLM.match(text)
    if m:
        return ParsedLine(
            level=Level[m["level"]],
            process=m["proc"],
            pid=int(m["pid"]) if m["pid"] else None,
            source=m["src"],
            message=m["msg"],
        )
    m = _UVICORN.match(text)
    if m:
        msg = m["msg"]
        access = _ACCESS.match(msg)
        return ParsedLine(
            level=Level[m["level"]],
            process="uvicorn",
            pid=None,
            source=None,
            message=msg,
            access_path=access["path"] if access else None,
            access_status=int(access["status"]) if access else None,
        )
    return ParsedLine(level=Level.NONE, process=None, pid=None, source=None, message=text)


def is_error_line(text: str) -> bool:
    """A line worth showing when the server dies: ERROR/CRITICAL or an exception line."""
    parsed = parse_line(text)
    if parsed.level >= Level.ERROR:
        return True
    stripped = text.strip()
    return parsed.level == Level.NONE and bool(
        _EXCEPTION.match(stripped) or _ARGPARSE.match(stripped)
    )


_WRAPPER = re.compile(r"See root cause above|See stack trace \(above\) for the root cause")
# What vLLM says when its engine core process vanished without a word of its own.
_ENGINE_DIED = re.compile(
    r"engine core exited unexpectedly|Engine core proc \S+ died unexpectedly"
    r"|Engine core died unexpectedly"
)
ENGINE_DIED_CAUSE = (
    "the engine core process died without an error of its own "
    "(killed by a signal, or by the kernel's OOM killer: see dmesg)"
)
# Traceback frames and carets: noise once the exception line is known.
_FRAME = re.compile(r"^(?:Traceback \(most recent call last\)|File \"|\^+$|~+$)")


def _message(text: str) -> str:
    return parse_line(text).message.strip()


def failure_cause(lines: list[str]) -> str | None:
    """The most telling single line among a dying server's last lines.

    A traceback's final exception line names the cause; vLLM's wrapper errors ("Engine core
    initialization failed. See root cause above", "EngineDeadError: ... See stack trace (above)
    for the root cause") point elsewhere, so an earlier specific exception wins over them. An
    engine core that died without a traceback (SIGKILL, the OOM killer) is said so.
    """
    messages = [_message(ln) for ln in lines]
    exceptions = [m for m in messages if _EXCEPTION.match(m) or _ARGPARSE.match(m)]
    specific = [e for e in exceptions if not _WRAPPER.search(e)]
    if specific:
        return specific[-1]
    if any(_ENGINE_DIED.search(m) for m in messages):
        return ENGINE_DIED_CAUSE
    if exceptions:
        return exceptions[-1]
    errors = [parse_line(ln) for ln in lines]
    error_messages = [p.message for p in errors if p.level >= Level.ERROR]
    return error_messages[-1] if error_messages else None


def notable_errors(lines: list[str], limit: int = 3) -> list[str]:
    """The last `limit` distinct error messages, without traceback frames or repeats.

    A dying server repeats the same error once per request in flight and prints every frame
    of every traceback as an ERROR line; a person wants the few different things it said.
    """
    seen: dict[str, str] = {}
    for text in lines:
        parsed = parse_line(text)
        message = parsed.message.strip()
        is_error = parsed.level >= Level.ERROR or (
            parsed.level == Level.NONE
            and bool(_EXCEPTION.match(message) or _ARGPARSE.match(message))
        )
        if not is_error or not message or _FRAME.match(message) or text[:1].isspace():
            continue
        if parsed.message[:1].isspace():  # an indented source line of a traceback
            continue
        shown = f"{parsed.process}: {message}" if parsed.process else message
        seen.pop(message, None)  # keep the order of last appearance
        seen[message] = shown
    return list(seen.values())[-limit:]
