"""Write a small ShareGPT-format dataset for `vllm-top bench --dataset` (tests and the README).

Real ShareGPT data is a download, which vllm-top never makes; this is a seeded stand-in of the
same shape: conversations of one to three user turns with replies, whose lengths spread like
chat traffic (most prompts short, a long tail), in words of vllm-top's own prompt corpus.

    python -m bench.sharegpt_sample bench/data/sharegpt-sample.json --conversations 100
"""

from __future__ import annotations

import argparse
import json
import random
from importlib import resources
from pathlib import Path


def words() -> list[str]:
    return resources.files("loadgen").joinpath("words.txt").read_text(encoding="utf-8").split()


def _text(rng: random.Random, vocabulary: list[str], mean_words: float, cap: int) -> str:
    n = max(3, min(cap, round(rng.lognormvariate(0, 0.8) * mean_words)))
    return " ".join(rng.choice(vocabulary) for _ in range(n)).capitalize() + "."


def sample(conversations: int, seed: int) -> list[dict[str, object]]:
    rng, vocabulary = random.Random(seed), words()
    out: list[dict[str, object]] = []
    for i in range(conversations):
        turns = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            turns.append({"from": "human", "value": _text(rng, vocabulary, 40, 300)})
            turns.append({"from": "gpt", "value": _text(rng, vocabulary, 30, 150)})
        out.append({"id": f"sample-{i}", "conversations": turns})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = sample(args.conversations, args.seed)
    args.path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"{args.path}: {len(data)} conversations")


if __name__ == "__main__":
    main()
