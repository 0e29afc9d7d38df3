"""Text formatting shared by the panels. Unknown is shown as "unknown"/"?", never as 0."""

from __future__ import annotations

UNKNOWN = "?"


def terminal_lacks_unicode(env: dict[str, str], stdout_encoding: str | None) -> bool:
    """A POSIX/C locale or a non-UTF-8 stdout: draw with plain ASCII."""
    locale = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
    if locale and "utf" not in locale.lower().replace("-", ""):
        return True
    return bool(stdout_encoding) and "utf" not in (stdout_encoding or "").lower()


def bar(fraction: float | None, width: int, ascii_only: bool = False) -> str:
    full, empty = ("#", "-") if ascii_only else ("█", "░")
    if fraction is None:
        return ("?" if ascii_only else "·") * width
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return full * filled + empty * (width - filled)


def percent(fraction: float | None, digits: int = 0) -> str:
    return UNKNOWN if fraction is None else f"{fraction * 100:.{digits}f}%"


def count(value: float | None) -> str:
    return UNKNOWN if value is None else f"{round(value):,}"


def gib(n_bytes: float | None) -> str:
    return UNKNOWN if n_bytes is None else f"{n_bytes / 2**30:.1f} GiB"


def ms(value: float | None) -> str:
    if value is None:
        return UNKNOWN
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return UNKNOWN
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
