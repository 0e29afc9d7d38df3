"""Prompts of exact lengths, in the server's own tokens.

vLLM's POST /tokenize counts a prompt (or, given `messages`, the chat template applied to them)
exactly as the request will be counted in `usage.prompt_tokens`. So a prompt of N tokens is
made by cutting N token ids out of a random-word text the server tokenized once, turning them
back into text (/detokenize), and counting the request as it will be sent; where the count is
off (tokens merge at the edges), the cut is lengthened or shortened and counted again. Every
request gets its own cut (no accidental prefix-cache hits); a shared prefix, when asked for,
is the same text at the head of every prompt of its group.

A server without /tokenize gets prompts of estimated length, and the plan says so.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.http import post_json
from loadgen.config import ConfigError, Endpoint
from loadgen.workload import DatasetEntry, Span, Workload, load_dataset

# Common English words: random text that any tokenizer splits into its usual pieces.
WORDS = (Path(__file__).with_name("words.txt")).read_text(encoding="utf-8").split()
ESTIMATED_TOKENS_PER_WORD = 1.3  # only without /tokenize: marked approximate
MAX_ADJUSTMENTS = 12
PREPARE_THREADS = 16


@dataclass(frozen=True)
class Turn:
    """One request of a conversation: the user's new message (or the whole prompt)."""

    text: str
    prompt_tokens: int | None  # what the server counts for this request alone; None: unknown
    max_tokens: int | None  # forced output length


@dataclass(frozen=True)
class Plan:
    """The prepared requests: a conversation per entry, one turn each unless multi-turn."""

    conversations: tuple[tuple[Turn, ...], ...]
    lengths_exact: bool  # prompt lengths are the server's own count
    force_output: bool  # output lengths held with ignore_eos

    def turn(self, index: int) -> Turn:
        """The first turn of the conversation this request index falls on (single-turn)."""
        return self.conversations[index % len(self.conversations)][0]

    def rotated(self, by: int) -> Plan:
        """The same prompts from another starting point: runs that follow each other (the
        probes of a search) do not send the same prompts, which the prefix cache would serve."""
        k = by % len(self.conversations)
        return replace(self, conversations=self.conversations[k:] + self.conversations[:k])


class ServerTokenizer:
    """The server's /tokenize and /detokenize, for one model."""

    def __init__(self, base_url: str, model: str | None, api_key: str | None) -> None:
        self._base = base_url
        self._model = model
        self._key = api_key

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        answer = post_json(self._base + path, {"model": self._model, **body}, self._key)
        if answer.status != 200:
            raise ConfigError(f"{path} answered {answer.status or answer.error}")
        return answer.json()

    def max_model_len(self) -> int | None:
        """None when the server has no usable /tokenize."""
        answer = post_json(
            self._base + "/tokenize", {"model": self._model, "prompt": "x"}, self._key
        )
        data = answer.json() if answer.status == 200 else None
        if isinstance(data, dict) and isinstance(data.get("max_model_len"), int):
            return int(data["max_model_len"])
        return None

    def encode(self, text: str) -> list[int]:
        return list(
            self._post("/tokenize", {"prompt": text, "add_special_tokens": False})["tokens"]
        )

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._post("/detokenize", {"tokens": list(ids)})["prompt"])

    def count(self, text: str, chat: bool) -> int:
        """Tokens of a request with this prompt, or this single user message, as served."""
        body: dict[str, Any] = (
            {"messages": [{"role": "user", "content": text}]} if chat else {"prompt": text}
        )
        return int(self._post("/tokenize", body)["count"])


def prepare(
    workload: Workload,
    requests: int,
    endpoint: Endpoint,
    tokenizer: ServerTokenizer,
    on_progress: Callable[[int, int], None] | None = None,
) -> Plan:
    """Prompts for `requests` requests of this workload (blocking: many small requests, 16 at a
    time). ConfigError for what cannot run (lengths over the server's max_model_len)."""
    rng = random.Random(workload.seed)
    chat = endpoint == "chat"
    max_len = tokenizer.max_model_len()
    conversations = -(-requests // workload.turns)
    if workload.dataset is not None:
        entries = load_dataset(workload.dataset)
        rng.shuffle(entries)
        return _from_dataset(entries, workload, conversations, chat, tokenizer, max_len)
    if workload.input_len is None:
        raise ConfigError("a shaped workload needs --input-len or --dataset")
    _check_fits(workload, max_len)
    out = workload.output_len
    if max_len is None:  # no /tokenize: estimated lengths, said so
        convs = tuple(
            tuple(Turn(_words(rng, workload.input_len.draw(rng)), None, _draw(out, rng))
                  for _ in range(workload.turns))
            for _ in range(conversations)
        )  # fmt: skip
        return Plan(convs, lengths_exact=False, force_output=out is not None)
    corpus = _corpus(tokenizer, rng, workload.input_len.hi * 2 + 64)
    bare = lambda text: len(tokenizer.encode(text))  # noqa: E731 - a prefix alone: no template
    heads = [
        _exact(tokenizer, corpus, rng, workload.prefix_len, bare, head="")[0]
        for _ in range(workload.prefix_groups if workload.prefix_len else 0)
    ]
    as_sent = lambda text: tokenizer.count(text, chat)  # noqa: E731
    jobs = [
        (c, t, workload.input_len.draw(rng), _draw(out, rng), rng.randrange(1 << 30))
        for c in range(conversations)
        for t in range(workload.turns)
    ]
    done = itertools.count(1)
    lock = threading.Lock()

    def build(job: tuple[int, int, int, int | None, int]) -> tuple[Turn, bool]:
        conv, turn, length, max_tokens, seed = job
        head = heads[conv % len(heads)] + " " if heads and turn == 0 else ""
        # Later turns of a conversation are measured alone; the server adds the history.
        text, got = _exact(tokenizer, corpus, random.Random(seed), length, as_sent, head)
        if on_progress is not None:
            with lock:
                on_progress(next(done), len(jobs))
        return Turn(text, got, max_tokens), got == length

    with ThreadPoolExecutor(PREPARE_THREADS) as pool:
        built = list(pool.map(build, jobs))
    turns = [t for t, _ in built]
    convs = tuple(
        tuple(turns[c * workload.turns : (c + 1) * workload.turns]) for c in range(conversations)
    )
    return Plan(convs, lengths_exact=all(ok for _, ok in built), force_output=out is not None)


def _check_fits(workload: Workload, max_len: int | None) -> None:
    if max_len is None or workload.input_len is None:
        return
    out = workload.output_len.hi if workload.output_len else 0
    need = (workload.input_len.hi + out) * workload.turns
    if need > max_len:
        what = f"--input-len {workload.input_len.hi}"
        if out:
            what += f" plus --output-len {out}"
        if workload.turns > 1:
            what = f"{workload.turns} turns of {what}"
        raise ConfigError(f"{what} is {need} tokens, over the server's max_model_len {max_len}")


def _draw(span: Span | None, rng: random.Random) -> int | None:
    return span.draw(rng) if span is not None else None


def _words(rng: random.Random, tokens: int) -> str:
    return " ".join(
        rng.choice(WORDS) for _ in range(max(1, round(tokens / ESTIMATED_TOKENS_PER_WORD)))
    )


def _corpus(tokenizer: ServerTokenizer, rng: random.Random, tokens: int) -> list[int]:
    """Token ids of random words, at least `tokens` of them."""
    ids: list[int] = []
    while len(ids) < tokens:
        ids += tokenizer.encode(" " + _words(rng, tokens))
    return ids


def _exact(
    tokenizer: ServerTokenizer,
    corpus: list[int],
    rng: random.Random,
    target: int,
    count: Callable[[str], int],
    head: str,
) -> tuple[str, int]:
    """Text that, after `head`, counts `target` tokens; and its count (the target but for the
    rare cut that never lands on it)."""
    overhead = count(head)
    take = max(1, target - overhead)
    start = rng.randrange(0, max(1, len(corpus) - 2 * target))
    best: tuple[int, str, int] | None = None
    tried: set[int] = set()
    for _ in range(MAX_ADJUSTMENTS):
        text = head + tokenizer.decode(corpus[start : start + take]).strip()
        got = count(text)
        if best is None or abs(got - target) < best[0]:
            best = (abs(got - target), text, got)
        if got == target:
            break
        tried.add(take)
        take = max(1, take + target - got)
        if take in tried:  # around the target, never on it (merges at the cut): move the window
            start = (start + 1) % max(1, len(corpus) - 2 * target)
            tried.clear()
    assert best is not None
    return best[1], best[2]


def _from_dataset(
    entries: list[DatasetEntry],
    workload: Workload,
    conversations: int,
    chat: bool,
    tokenizer: ServerTokenizer,
    max_len: int | None,
) -> Plan:
    rng = random.Random(workload.seed)
    forced = workload.output_len
    convs: list[tuple[Turn, ...]] = []
    for c in range(conversations):
        entry = entries[c % len(entries)]
        if forced is not None:
            max_tokens = forced.draw(rng)
        elif max_len is not None:
            max_tokens = max(1, tokenizer.count(entry.first_reply, chat=False))
        else:
            max_tokens = max(1, round(len(entry.first_reply.split()) * ESTIMATED_TOKENS_PER_WORD))
        turns = entry.user_turns[: workload.turns]
        counted = [tokenizer.count(t, chat) if max_len is not None else None for t in turns]
        if max_len is not None and counted[0] is not None and counted[0] + max_tokens > max_len:
            continue  # too long for this server, as vllm bench serve leaves them out
        convs.append(tuple(Turn(t, n, max_tokens) for t, n in zip(turns, counted, strict=True)))
    if not convs:
        raise ConfigError(
            f"no conversation of the dataset fits the server's max_model_len {max_len}"
        )
    # The replies' lengths are held as the data says, like --output-len.
    return Plan(tuple(convs), lengths_exact=max_len is not None, force_output=True)
