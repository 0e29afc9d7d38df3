"""Carry a server's output to where it is kept: threads that read its two pipes (or follow the
log file it writes itself), split lines, mask secrets, append them to the log file and the
bounded buffer, then hand the masked lines on. Bytes and threads only: what the lines mean is
engine.server_log's business.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from engine.linesplit import LineSplitter
from engine.logbuffer import LogBuffer, LogLine, Stream

LinesSink = Callable[[list[LogLine]], None]


class LogPipe:
    def __init__(
        self,
        buffer: LogBuffer,
        redact: Callable[[str], str],
        clock: Callable[[], float],
        on_lines: LinesSink,
    ) -> None:
        self.buffer = buffer
        self._redact = redact
        self._clock = clock
        self._on_lines = on_lines
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()  # one writer at a time: file, buffer and sink in order
        self._threads: list[threading.Thread] = []

    def read_pipes(self, log_file: IO[bytes], stdout: IO[bytes], stderr: IO[bytes]) -> None:
        """Read both pipes until they close, writing every line to `log_file` too."""
        self._file = log_file
        for stream, pipe in (("stdout", stdout), ("stderr", stderr)):
            self._start(self._read, stream, pipe)

    def follow(self, path: Path, start: int, running: Callable[[], bool]) -> None:
        """The server writes its log file itself (--keep-server): tail it until it is gone."""
        self._start(self._follow, path, start, running)

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="vllm-top-log", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read(self, stream: Stream, pipe: IO[bytes]) -> None:
        splitter = LineSplitter()
        fd = pipe.fileno()
        while True:
            chunk = os.read(fd, 65536)
            lines = splitter.feed(chunk) if chunk else splitter.flush()
            if lines:
                self._take(stream, lines)
            if not chunk:
                break
        pipe.close()

    def _follow(self, path: Path, start: int, running: Callable[[], bool]) -> None:
        splitter = LineSplitter()
        with open(path, "rb") as f:
            f.seek(start)
            while True:
                chunk = f.read(65536)
                if chunk:
                    if lines := splitter.feed(chunk):
                        self._take("stdout", lines)
                elif not running():
                    if lines := splitter.flush():
                        self._take("stdout", lines)
                    return
                else:
                    time.sleep(0.05)

    def _take(self, stream: Stream, texts: list[str]) -> None:
        # Every line is masked before it reaches the file or the buffer, so nothing downstream
        # (log view, saved log, headless output) can show a secret.
        texts = [self._redact(t) for t in texts]
        with self._lock:
            if self._file is not None:
                self._file.write(("\n".join(texts) + "\n").encode("utf-8", "replace"))
                self._file.flush()
            added = self.buffer.extend(stream, texts, self._clock())
            self._on_lines(added)
