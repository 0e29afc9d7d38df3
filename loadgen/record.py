"""What happened to one request. Times are seconds since the run started (perf_counter)."""

from __future__ import annotations

from array import array
from collections.abc import MutableSequence
from dataclasses import dataclass, field


def _gaps() -> MutableSequence[float]:
    # float32: 4 bytes a gap instead of a list's 32, exact to 1 part in 10^7 (under 0.1 us
    # for any gap under a second); a long run keeps millions of them.
    return array("f")


@dataclass(slots=True)
class RequestRecord:
    index: int
    intended: float  # when the schedule meant to send it
    sent: float = 0.0  # when it was actually sent (after waiting for a concurrency slot)
    first_byte: float | None = None
    first_token: float | None = None  # first chunk that carried generated tokens
    last_token: float | None = None
    end: float | None = None  # response fully read
    itl: MutableSequence[float] = field(default_factory=_gaps)  # between token chunks, s
    chunks: int = 0  # token-bearing chunks
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    tokens_exact: bool = True  # False: counted from chunks, the server gave no usage
    retried: bool = False  # sent again on a new connection: the first died unread (keep-alive)
    conversation: int | None = None  # multi-turn: which conversation, and which turn of it
    turn: int | None = None
    status: int | None = None
    error_kind: str | None = None
    error: str | None = None

    def shift(self, by: float) -> None:
        """Move every time by `by` seconds (onto another process's time 0)."""
        if by == 0.0:
            return
        self.intended += by
        self.sent += by
        if self.first_byte is not None:
            self.first_byte += by
        if self.first_token is not None:
            self.first_token += by
        if self.last_token is not None:
            self.last_token += by
        if self.end is not None:
            self.end += by

    @property
    def ok(self) -> bool:
        return self.error_kind is None and self.status == 200

    @property
    def queue_delay(self) -> float:
        """Client-side wait between the intended and the actual send."""
        return self.sent - self.intended

    @property
    def ttft(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.sent

    @property
    def e2e(self) -> float | None:
        """Send to last token, as vLLM's benchmark defines latency."""
        last = self.last_token if self.last_token is not None else self.end
        return None if last is None else last - self.sent

    @property
    def tpot(self) -> float | None:
        """(E2E - TTFT) / (output tokens - 1), vLLM's per-request time per output token."""
        if self.ttft is None or self.e2e is None or not self.output_tokens:
            return None
        if self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)
