"""Which servers make a fleet: URLs from the command line, or a TOML fleet file.

    [[endpoint]]
    name = "replica-a"                          # optional: the URL's host:port otherwise
    url = "http://gpu-1:8000/v1"
    api_key_env = "REPLICA_A_KEY"               # optional: the variable holding its key
    gpu_metrics = "http://gpu-1:9400/metrics"   # optional: dcgm-exporter or nvitop-exporter

Keys are never written in the file itself, only the name of the variable that holds one. A bad
file is one `FleetFileError` line naming the file, the entry and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.urls import normalize_base_url

KNOWN_KEYS = {"name", "url", "api_key_env", "gpu_metrics"}


class FleetFileError(ValueError):
    """The fleet file cannot be used; the message says where and why in one line."""


@dataclass(frozen=True)
class FleetMember:
    name: str
    base_url: str  # without /v1
    api_key: str | None = None
    gpu_metrics_url: str | None = None


def members_from_urls(urls: Sequence[str], api_key: str | None) -> list[FleetMember]:
    members = [FleetMember(_default_name(u), _checked_url(u, u), api_key) for u in urls]
    _check_unique(members, "the command line")
    return members


def read_fleet_file(path: Path, environ: Mapping[str, str] = os.environ) -> list[FleetMember]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FleetFileError(f"cannot read fleet file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FleetFileError(f"{path} is not valid TOML: {exc}") from None
    entries = data.get("endpoint")
    if not isinstance(entries, list) or not entries:
        raise FleetFileError(f"{path} has no [[endpoint]] entries")
    members = [_member(path, i + 1, entry, environ) for i, entry in enumerate(entries)]
    _check_unique(members, str(path))
    return members


def _member(path: Path, number: int, entry: object, environ: Mapping[str, str]) -> FleetMember:
    where = f"{path}, endpoint {number}"
    if not isinstance(entry, dict):
        raise FleetFileError(f"{where}: not a table")
    unknown = sorted(set(entry) - KNOWN_KEYS)
    if unknown:
        raise FleetFileError(f"{where}: unknown key {unknown[0]!r} (known: {sorted(KNOWN_KEYS)})")
    for key in KNOWN_KEYS & set(entry):
        if not isinstance(entry[key], str) or not entry[key]:
            raise FleetFileError(f"{where}: {key} must be a non-empty string")
    if "url" not in entry:
        raise FleetFileError(f"{where}: no url")
    url = entry["url"]
    key_env = entry.get("api_key_env")
    api_key = None
    if key_env is not None:
        api_key = environ.get(key_env)
        if not api_key:
            raise FleetFileError(f"{where}: ${key_env} (its api_key_env) is not set")
    gpu_url = entry.get("gpu_metrics")
    if gpu_url is not None:
        _checked_url(gpu_url, where)
    return FleetMember(
        entry.get("name") or _default_name(url), _checked_url(url, where), api_key, gpu_url
    )


def _checked_url(url: str, where: str) -> str:
    base = normalize_base_url(url)
    parts = urllib.parse.urlsplit(base)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise FleetFileError(f"{where}: {url!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FleetFileError(f"{where}: {url!r} is not a server URL (e.g. http://gpu-1:8000)")
    return base


def _default_name(url: str) -> str:
    parts = urllib.parse.urlsplit(normalize_base_url(url))
    return parts.netloc or url


def _check_unique(members: list[FleetMember], where: str) -> None:
    seen: set[str] = set()
    for member in members:
        if member.name in seen:
            raise FleetFileError(f"{where}: two endpoints are named {member.name!r}")
        seen.add(member.name)
