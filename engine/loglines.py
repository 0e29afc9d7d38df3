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


def failure_cause(lines: list[str]) -> str | None:
    """The most telling single line among a dying server's last lines.

    A traceback's final exception line names the cause; vLLM's wrapper errors ("Engine core
    initialization failed. See root cause above") point elsewhere, so an earlier specific
    exception wins over them.
    """
    exceptions = [
        ln.strip() for ln in lines if _EXCEPTION.match(ln.strip()) or _ARGPARSE.match(ln.strip())
    ]
    specific = [e for e in exceptions if "See root cause above" not in e]
    if specific:
        return specific[-1]
    if exceptions:
        return exceptions[-1]
    errors = [parse_line(ln) for ln in lines]
    messages = [p.message for p in errors if p.level >= Level.ERROR]
    return messages[-1] if messages else None
