"""Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input: reported in one line, exit code 2."""
