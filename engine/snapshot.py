"""One look at a server, as data: what `vllm-top snapshot --json` prints.

Anything unknown is None (JSON null): a missing metric, a model list behind an API key we were
not given, a GPU reading NVML cannot make.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from engine.fleet_file import FleetMember
from engine.gpu import Nvml
from engine.gpu_exporters import ExporterError, scrape_exported_gpus
from engine.health import Health, probe_health, silence
from engine.http import get_json
from engine.metrics import MetricsSample, ScrapeError, scrape
from engine.urls import is_local, normalize_base_url


@dataclass(frozen=True)
class ServerIdentity:
    """What /version and /v1/models say; None where they said nothing."""

    version: str | None
    models: list[str] | None
    max_model_len: int | None
    needs_api_key: bool  # /v1/models answered 401


def fetch_identity(base: str, api_key: str | None, timeout: float) -> ServerIdentity:
    _, version = get_json(base + "/version", None, timeout)
    code, listing = get_json(base + "/v1/models", api_key, timeout)
    models = max_len = None
    if isinstance(listing, dict) and isinstance(listing.get("data"), list):
        entries = [m for m in listing["data"] if isinstance(m, dict)]
        models = [str(m.get("id")) for m in entries]
        max_len = next((n for m in entries if isinstance(n := m.get("max_model_len"), int)), None)
    return ServerIdentity(
        version=version.get("version") if isinstance(version, dict) else None,
        models=models,
        max_model_len=max_len,
        needs_api_key=code == 401,
    )


REMOTE_GPUS = "unknown: a remote node (gpu_metrics in a fleet file names its exporter)"


def take_fleet_snapshot(
    members: Sequence[FleetMember], timeout: float = 5.0
) -> list[dict[str, Any]]:
    """One object per endpoint, asked at once (a hung one costs its timeout, not the sum).

    GPUs: the node's exporter where the fleet file names one; this machine's NVML for an
    endpoint on this machine; otherwise unknown, with the reason in gpu_status.
    """
    nvml = Nvml()
    try:
        with ThreadPoolExecutor(max_workers=min(16, len(members))) as pool:
            return list(pool.map(lambda m: _member_snapshot(m, timeout, nvml), members))
    finally:
        nvml.close()


def _member_snapshot(member: FleetMember, timeout: float, nvml: Nvml) -> dict[str, Any]:
    # This machine's GPUs are an endpoint's only when it runs here and has no exporter.
    local = member.gpu_metrics_url is None and is_local(member.base_url)
    snap = {
        "name": member.name,
        **take_snapshot(member.base_url, member.api_key, timeout, nvml, sample_gpus=local),
    }
    if member.gpu_metrics_url is not None:
        snap["gpus"], snap["gpu_source"] = [], member.gpu_metrics_url
        try:
            exported = scrape_exported_gpus(member.gpu_metrics_url, timeout)
        except ExporterError as exc:
            snap["gpu_status"] = str(exc)
        else:
            snap["gpus"], snap["gpu_status"] = exported.to_json(), "ok"
            snap["gpu_source"] = exported.exporter
    elif not is_local(member.base_url):
        snap["gpus"], snap["gpu_source"] = [], None
        snap["gpu_status"] = REMOTE_GPUS
    else:
        snap["gpu_source"] = "nvml"
    return snap


def take_snapshot(
    url: str,
    api_key: str | None = None,
    timeout: float = 5.0,
    nvml: Nvml | None = None,
    sample_gpus: bool = True,
) -> dict[str, Any]:
    base = normalize_base_url(url)
    started = time.monotonic()
    probe = probe_health(base, timeout)
    snap: dict[str, Any] = {
        "url": base + "/v1",
        "state": None,
        "detail": None,
        "version": None,
        "models": None,
        "max_model_len": None,
        "kv_cache": {
            "usage": None,
            "used_tokens": None,
            "capacity_tokens": None,
            "max_concurrency": None,
        },
        "requests": {"running": None, "waiting": None},
        "preemptions_total": None,
        "prefix_cache_hit_rate": None,
        "engines": [],
        "gpus": [],
        "gpu_status": None,
    }
    if sample_gpus:
        nv = nvml if nvml is not None else Nvml()
        snap["gpus"] = [g.to_json() for g in nv.sample()]
        snap["gpu_status"] = "ok" if nv.available else nv.reason
    if probe.health is Health.SILENT:
        # Something took the connection and never answered: a hung server, not a missing one.
        snap["state"] = "unresponsive"
        snap["detail"] = silence(time.monotonic() - started)
        return snap
    if probe.status is None:
        snap["state"] = "unreachable"
        snap["detail"] = f"no answer from {base}/health"
        return snap
    if probe.health is Health.UNEXPECTED:
        snap["state"] = "unreachable"
        snap["detail"] = f"GET /health answered {probe.status}: not a vLLM server?"
        return snap
    snap["state"] = {Health.READY: "ready", Health.DEAD: "dead"}.get(probe.health, "starting")
    identity = fetch_identity(base, api_key, timeout)
    snap["version"] = identity.version
    snap["models"] = identity.models
    snap["max_model_len"] = identity.max_model_len
    if identity.needs_api_key:
        snap["detail"] = "/v1/models needs an API key (--api-key)"
    try:
        sample = scrape(base, time.monotonic(), timeout)
    except ScrapeError as exc:
        snap["detail"] = str(exc)
        return snap
    _fill_from_metrics(snap, sample)
    return snap


def _fill_from_metrics(snap: dict[str, Any], sample: MetricsSample) -> None:
    if not sample.has_vllm_series:
        snap["detail"] = "/metrics has no vllm:* series (server started with --disable-log-stats?)"
        return
    kv = snap["kv_cache"]
    kv["usage"] = sample.kv_usage
    kv["used_tokens"] = sample.kv_used_tokens
    kv["capacity_tokens"] = sample.kv_capacity_tokens
    concurrency = [
        float(c)
        for e in sample.engines.values()
        if (c := e.cache_info.get("kv_cache_max_concurrency")) not in (None, "None")
    ]
    kv["max_concurrency"] = sum(concurrency) if concurrency else None
    snap["requests"] = {
        "running": _int(sample.total("running")),
        "waiting": _int(sample.total("waiting")),
    }
    snap["preemptions_total"] = _int(sample.total("preemptions"))
    snap["prefix_cache_hit_rate"] = sample.prefix_cache_hit_rate
    snap["engines"] = [
        {
            "engine": e.engine,
            "kv_cache_usage": e.kv_usage,
            "kv_cache_capacity_tokens": e.kv_capacity_tokens,
            "running": _int(e.running),
            "waiting": _int(e.waiting),
            "preemptions_total": _int(e.values.get("preemptions")),
            "generation_tokens_total": _int(e.values.get("generation_tokens")),
        }
        for e in sample.engines.values()
    ]


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)
