"""Readable reports and per-request CSV: the prototype's sections plus the latency table."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from loadgen.record import RequestRecord
from loadgen.stats import Distribution, Summary

_COLUMNS = ("mean", "min", "p50", "p90", "p95", "p99", "max")


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def latency_table(summary: Summary) -> list[str]:
    rows: list[tuple[str, Distribution]] = [
        ("TTFT", summary.ttft),
        ("TPOT", summary.tpot),
        ("ITL", summary.itl),
        ("E2E", summary.e2e),
        ("queue", summary.queue_delay),
    ]
    head = f"{'(ms)':<8}" + "".join(f"{c:>10}" for c in _COLUMNS) + f"{'n':>8}"
    lines = [head]
    for name, dist in rows:
        values = dist.to_json()
        lines.append(
            f"{name:<8}"
            + "".join(f"{_fmt_ms(values[c]):>10}" for c in _COLUMNS)
            + f"{dist.count:>8}"
        )
    return lines


def render_report(summary: Summary, title: str = "vllm-top bench") -> str:
    cfg = summary.config
    width = 78
    tokens_note = "exact, from server usage" if summary.tokens_exact else "APPROXIMATE: no usage"
    lines = [
        f" {title} ".center(width, "="),
        f"Target:              {cfg.url}  (model {cfg.model})",
        f"Load:                {cfg.describe()}",
        *_workload_lines(summary),
        f"Success rate:        {summary.success_rate:.1%}  "
        f"({summary.succeeded} ok, {summary.failed} failed of {summary.requests})",
        f"Total time:          {summary.duration_s:.2f} s",
        f"Request throughput:  {summary.request_throughput:.2f} req/s",
        f"Output tokens:       {summary.output_tokens:,}  ({tokens_note})",
        f"Output throughput:   {summary.output_token_throughput:,.1f} tok/s",
        f"Total throughput:    {summary.total_token_throughput:,.1f} tok/s "
        f"(prompt {summary.prompt_tokens:,} + output)",
    ]
    if summary.retried:
        lines.append(
            f"Retried:             {summary.retried} requests, sent again on a new connection "
            "(a kept-alive one had been closed by the server before they reached it)"
        )
    if summary.cancelled:
        lines.append(
            f"Cancelled:           yes; {summary.cancelled_in_flight} requests in flight were "
            "cut off (not counted); figures cover what finished"
        )
    lines += ["", "Latency " + "-" * (width - 8), *latency_table(summary), ""]
    lines += _slo_lines(summary)
    lines += _server_lines(summary, width)
    lines += _shape_lines(summary, width)
    lines.append(
        "Status codes:        "
        + ", ".join(f"{code}: {n}" for code, n in summary.status_codes.items())
    )
    if summary.errors:
        lines.append("Errors:")
        lines += [f"  {n:>6} x {msg}" for msg, n in list(summary.errors.items())[:10]]
        if len(summary.errors) > 10:
            lines.append(f"  ... and {len(summary.errors) - 10} other kinds")
    else:
        lines.append("Errors:              none")
    if summary.client is not None:
        c = summary.client
        verdict = (
            f"CLIENT-BOUND: {c.reason}; latencies above are inflated"
            if c.bound
            else "not the bottleneck"
        )
        chosen = "" if summary.config.workers is not None else ", chosen from the cores"
        procs = f" in {summary.workers} load process{'es' if summary.workers > 1 else ''}{chosen}"
        lines.append(
            f"Client:              {c.cpu_fraction:.0%} of a core{procs}, event-loop lag p99 "
            f"{c.loop_lag_p99_ms:.1f} ms ({verdict})"
        )
    if summary.workers > 1:
        for share in summary.shares:
            rate = share.delivered_rps
            health = share.client
            client = (
                "" if health is None
                else f", {health.cpu_fraction:.0%} CPU" + (", CLIENT-BOUND" if health.bound else "")
            )  # fmt: skip
            lines.append(
                f"  worker {share.worker + 1:<3} {share.where}: {share.succeeded:,} ok of "
                f"{share.requests:,}, {share.output_tokens:,} tokens"
                + (f", {rate:,.1f} req/s" if rate is not None else "")
                + client
            )
    for loss in summary.worker_losses:
        lines.append(f"Lost:                {loss}")
    lines.append("=" * width)
    return "\n".join(lines)


def _workload_lines(s: Summary) -> list[str]:
    w = s.config.workload
    if w is None or not w.shaped:
        return []
    lengths = (
        "exact, counted by the server's /tokenize"
        if s.lengths_exact
        else "APPROXIMATE: the server has no /tokenize, estimated"
        if s.lengths_exact is False
        else "as given"
    )
    out = [f"Prompt lengths:      {lengths}"]
    if w.output_len is not None or w.dataset is not None:
        out.append("Output lengths:      forced (ignore_eos with max_tokens)")
    return out


def _slo_lines(s: Summary) -> list[str]:
    if s.slo is None:
        return []
    lo, hi = s.slo.interval
    return [
        f"SLO:                 {s.slo.slo.describe()}",
        f"Attainment:          {s.slo.attainment:.1%} ({s.slo.met} of {s.slo.requests} met them; "
        f"95% interval {lo:.1%}-{hi:.1%})",
        f"Goodput:             {s.slo.goodput:.2f} req/s",
        "",
    ]


def _server_lines(s: Summary, width: int) -> list[str]:
    from loadgen.server_side import CLIENT_SHARE_BOUND, LATENCIES, ttft_breakdown

    head = "Server side (/metrics over the run) "
    if s.server is None:
        return [head + "-" * (width - len(head)), f"  unknown: {s.server_note or 'not read'}", ""]
    srv = s.server
    rows = [f"{'(ms)':<8}" + "".join(f"{c:>10}" for c in ("mean", "p50", "p90", "p95", "p99"))]
    for name in LATENCIES:
        h = srv.latencies.get(name)
        cells = [h.mean_ms, h.p50_ms, h.p90_ms, h.p95_ms, h.p99_ms] if h is not None else [None] * 5
        rows.append(f"{name:<8}" + "".join(f"{_fmt_ms(v):>10}" for v in cells))

    def num(v: float | int | None, fmt: str = ",") -> str:
        return "unknown" if v is None else format(v, fmt)

    kv = "unknown" if srv.kv_peak is None else f"{srv.kv_peak:.0%} ({num(srv.kv_peak_tokens)} tok)"
    hit = "unknown" if srv.prefix_cache_hit_rate is None else f"{srv.prefix_cache_hit_rate:.1%}"
    per_tok = srv.energy_per_output_token()
    energy = (
        f"{srv.energy_j:,.0f} J, {per_tok:.3f} J per output token"
        if srv.energy_j is not None and per_tok is not None
        else f"unknown: {srv.energy_note}"
    )
    out = [head + "-" * (width - len(head)), *rows]
    out += [
        f"KV cache peak:       {kv}; waiting peak {num(srv.waiting_peak)}; "
        f"preemptions {num(srv.preemptions)}",
        f"Prefix cache hits:   {hit}",
        f"Tokens (server):     prompt {num(srv.prompt_tokens)}, generation "
        f"{num(srv.generation_tokens)} (client counted {s.output_tokens:,})",
        f"GPU energy:          {energy}",
    ]
    breakdown = ttft_breakdown(s.ttft.mean, srv)
    if breakdown is not None:
        note = " (CLIENT-BOUND?)" if breakdown.outside_share > CLIENT_SHARE_BOUND else ""
        out.append(f"TTFT breakdown:      {breakdown.describe()}{note}")
    return [*out, ""]


def _shape_lines(s: Summary, width: int) -> list[str]:
    out = []
    if s.steady is not None:
        st = s.steady
        out.append(
            f"Steady state:        {st.window_s:.1f} s at >=95% of the cap from "
            f"t+{st.start_s:.1f}s: {st.requests} requests, {st.request_throughput:.2f} req/s, "
            f"{st.output_token_throughput:,.0f} tok/s, TTFT p50 {_fmt_ms(st.ttft.p50)} ms"
        )
    if s.delivered is not None:
        d = s.delivered
        got = []
        if d.achieved_concurrency is not None:
            got.append(f"{d.achieved_concurrency:.1f} in flight of {d.requested_concurrency}")
        if d.achieved_rate is not None:
            got.append(f"{d.achieved_rate:.2f} req/s (asked {d.requested_rate:g})")
        flag = f"  OFF BY MORE THAN 5%: {d.reason}" if d.off else ""
        if got:
            out.append(f"Delivered:           {', '.join(got)}{flag}")
    for t in s.per_turn:
        out.append(
            f"Turn {t.turn:<3}            {t.succeeded}/{t.requests} ok, prompt "
            f"{t.prompt_tokens_mean or 0:,.0f} tok, TTFT p50 {_fmt_ms(t.ttft.p50)} ms "
            f"p99 {_fmt_ms(t.ttft.p99)} ms"
        )
    return [*out, ""] if out else []


def render_sweep(summaries: Sequence[Summary]) -> str:
    best = max(summaries, key=lambda s: s.request_throughput, default=None)
    head = (
        f"{'conc':>6}{'req/s':>9}{'out tok/s':>11}{'TTFT p50':>10}{'TTFT p99':>10}"
        f"{'TPOT p50':>10}{'E2E p50':>10}{'ok':>8}"
    )
    lines = [" sweep ".center(78, "="), head]
    for s in summaries:
        mark = "  <- highest req/s" if s is best else ""
        lines.append(
            f"{s.config.concurrency or '-':>6}{s.request_throughput:>9.2f}"
            f"{s.output_token_throughput:>11,.0f}{_fmt_ms(s.ttft.p50):>10}"
            f"{_fmt_ms(s.ttft.p99):>10}{_fmt_ms(s.tpot.p50):>10}{_fmt_ms(s.e2e.p50):>10}"
            f"{s.success_rate:>8.0%}{mark}"
        )
    lines.append("=" * 78)
    return "\n".join(lines)


CSV_FIELDS = (
    "index",
    "intended_s",
    "sent_s",
    "queue_delay_ms",
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "itl_mean_ms",
    "chunks",
    "prompt_tokens",
    "output_tokens",
    "tokens_exact",
    "status",
    "error_kind",
    "error",
    "retried",
    "conversation",
    "turn",
)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value * 1000:.3f}"


def write_csv(path: Path, records: Sequence[RequestRecord]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for r in records:
            itl_mean = sum(r.itl) / len(r.itl) if r.itl else None
            writer.writerow(
                [
                    r.index,
                    f"{r.intended:.6f}",
                    f"{r.sent:.6f}",
                    _ms(r.queue_delay),
                    _ms(r.ttft),
                    _ms(r.tpot),
                    _ms(r.e2e),
                    _ms(itl_mean),
                    r.chunks,
                    "" if r.prompt_tokens is None else r.prompt_tokens,
                    "" if r.output_tokens is None else r.output_tokens,
                    int(r.tokens_exact),
                    "" if r.status is None else r.status,
                    r.error_kind or "",
                    r.error or "",
                    int(r.retried),
                    "" if r.conversation is None else r.conversation,
                    "" if r.turn is None else r.turn + 1,
                ]
            )
