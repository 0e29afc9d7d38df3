"""Keep secrets (API keys, the ngrok token) out of everything vllm-top shows or writes.

Two nets: the secrets vllm-top knows (the keys it was given or generated, $NGROK_AUTHTOKEN)
are replaced wherever they appear; and text shaped like a secret (`--api-key X`,
`Authorization: Bearer X`, vLLM's `'api_key': ['X']` in its "non-default args" line,
`NGROK_AUTHTOKEN=X`) is masked even when the secret was never told to us.

Applied to every server log line before it reaches the log file or the log view (so the
saved log, the headless output and the dashboard see masked text), to bench reports, JSON and
CSV, and to error messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# Shorter known secrets are masked only where their shape says so: replacing a 3-letter word
# everywhere would mangle the log and tell a reader the secret anyway.
MIN_KNOWN_LENGTH = 6

_SHAPED = re.compile(
    r"(?P<keep>--api[-_]key[= ]|--authtoken[= ]|\b(?:Bearer|bearer) "
    r"|\b(?:NGROK_AUTHTOKEN|VLLM_API_KEY|OPENAI_API_KEY|NGROK_API_KEY)=)"
    r"(?P<secret>[^\s'\",\]]+)"
    r"|(?P<keep_list>'api_key': )(?P<list>\[[^\]]*\]|'[^']*')"
)
# Cheap test first: most log lines hold none of these, and skip the regex altogether.
_HINTS = ("api_key", "api-key", "API_KEY", "earer ", "TOKEN", "authtoken")


def _mask_shaped(match: re.Match[str]) -> str:
    if match.group("keep") is not None:
        return match.group("keep") + MASK
    return match.group("keep_list") + f"['{MASK}']"


class Redactor:
    """A callable text -> text. Thread-safe: its secrets only ever grow, as a new tuple."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._known: tuple[str, ...] = ()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= MIN_KNOWN_LENGTH and secret not in self._known:
            # Longest first, so a secret containing another is masked whole.
            self._known = tuple(sorted((*self._known, secret), key=len, reverse=True))

    @property
    def known(self) -> int:
        return len(self._known)

    def __call__(self, text: str) -> str:
        for secret in self._known:
            if secret in text:
                text = text.replace(secret, MASK)
        if any(hint in text for hint in _HINTS):
            text = _SHAPED.sub(_mask_shaped, text)
        return text

    def lines(self, texts: list[str]) -> list[str]:
        return [self(t) for t in texts]


NO_SECRETS = Redactor()
