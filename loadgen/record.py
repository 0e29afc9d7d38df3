"""What happened to one request. Times are seconds since the run started (perf_counter)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestRecord:
    index: int
    intended: float  # when the schedule meant to send it
    sent: float = 0.0  # when it was actually sent (after waiting for a concurrency slot)
    first_byte: float | None = None
    first_token: float | None = None  # first chunk that carried generated tokens
    last_token: float | None = None
    end: float | None = None  # response fully read
    itl: list[float] = field(default_factory=list)  # gaps between token-bearing chunks, s
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
