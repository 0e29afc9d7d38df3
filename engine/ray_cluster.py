"""Joining a Ray cluster, for the load's workers (loadgen.ray_workers) and the node observers
(engine.node_observers). Ray is an optional extra: it is imported only when asked for, and
its absence is one line of error with how to install it."""

from __future__ import annotations

from typing import Any

INSTALL_HINT = 'Ray is not installed: pip install "vllm-top[cluster]" (or pip install ray)'


class ClusterError(ValueError):
    """No Ray, or no cluster at that address; the message says which, in one line."""


def ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL_HINT) from None
    return ray


def connect(address: str) -> None:
    """Join the cluster at `address` (Ray's own meanings, `auto` included), or start a
    private instance on this machine for `local`. Idempotent."""
    ray = ray_module()
    if ray.is_initialized():
        return
    try:
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot join the Ray cluster at {address}: {exc}") from None


def alive_nodes() -> dict[str, str]:
    """Alive nodes: node id -> its host name (as Ray knows it)."""
    ray = ray_module()
    return {
        n["NodeID"]: n.get("NodeManagerHostname") or n["NodeID"][:8]
        for n in ray.nodes()
        if n.get("Alive")
    }


def short_error(exc: BaseException) -> str:
    """A Ray error in a few words: a dead actor says its node is likely gone."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if "ActorDiedError" in type(exc).__name__ or "died" in first.lower():
        return "its actor died (node lost?)"
    return first[:160]
