"""How much an evaluation costs beside the training between two evaluations,
for every study's default configuration (target: at most 10%).

    python benchmarks/metric_cost.py            # every study, its default dataset
    python benchmarks/metric_cost.py --rounds 20 --studies dg_ratio,conditional

For each study and each distinct setting of its search space (the first seed
only), it trains `eval_every` rounds on one CPU thread (as a trial does), times
them, then times one evaluation (sampling, mode scores, metrics, sample grid),
and prints the ratio. The real side of the metrics is fitted once per process
(as in a trial) and is not counted. A last block does the same for a dataset
without known modes (an image folder written from stacked digits), where
each evaluation also computes PRDC, MS-SSIM and the Frechet distance.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from gan_core.config import TrainConfig
from gan_core.datasets import load_dataset
from gan_core.steps import one_round
from gan_core.train import build, evaluate
from studies.__main__ import all_studies
from studies.declare.cli import make_plan


def measure(config: TrainConfig, rounds: int | None) -> tuple[float, float, int]:
    """(seconds of training for one evaluation period, seconds of one evaluation, rounds timed)."""
    run = build(config)
    evaluate(run)  # warm-up: the real side of the metrics, the reference classifier, caches
    rounds = rounds or config.eval_every
    start = time.perf_counter()
    for _ in range(rounds):
        one_round(run)
    train = (time.perf_counter() - start) * config.eval_every / rounds
    start = time.perf_counter()
    evaluate(run)
    return train, time.perf_counter() - start, rounds


def distinct(configs: list[TrainConfig]) -> list[TrainConfig]:
    seen, out = set(), []
    for c in configs:
        key = repr(c.replace(seed=0))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def folder_of_digits(root: Path, n: int = 1000) -> str:
    """An image folder of stacked digits: a dataset whose modes the evaluation does not know."""
    data = load_dataset("stacked-digits", 32)
    images = (data.sample(n, torch.Generator().manual_seed(0)) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    for i, image in enumerate(images):
        Image.fromarray(image).save(root / f"{i:04d}.png")
    return f"folder:{root}"


def report(name: str, rows: list[tuple[str, float, float]]) -> float:
    for label, train, ev in rows:
        print(f"  {label:<58} train {train:6.2f} s  eval {ev:5.2f} s  eval/train {ev / train:6.1%}")
    ratio = statistics.median(ev / train for _, train, ev in rows)
    print(f"  {name}: median eval/train {ratio:.1%} (target <= 10%)")
    return ratio


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", help="comma-separated study names (default: all)")
    p.add_argument("--rounds", type=int, help="rounds to time per setting (default: a whole eval_every)")
    args = p.parse_args()
    torch.set_num_threads(1)
    studies = all_studies()
    names = args.studies.split(",") if args.studies else sorted(studies)
    summary = {}
    for name in names:
        plan = make_plan(studies[name], ["--dry-run"])
        configs = distinct(plan.configs)[:8]
        print(f"{name} ({plan.base['dataset']}, eval_every {plan.base['eval_every']}, "
              f"eval_samples {plan.base['eval_samples']}):")
        rows = []
        for c in configs:
            c = c.replace(max_seconds=0.0)
            train, ev, _ = measure(c, args.rounds)
            rows.append((f"{c.arch} {c.loss} {c.d_steps}:{c.g_steps} cond={c.conditioning}", train, ev))
        summary[name] = report(name, rows)
    with tempfile.TemporaryDirectory() as folder:
        dataset = folder_of_digits(Path(folder))
        base = make_plan(studies["dg_ratio"], ["--dry-run"]).configs[0]
        config = base.replace(dataset=dataset, max_seconds=0.0)
        print(f"no known modes ({dataset.split('/')[-1]}: prdc, ms_ssim, fd in random-CNN features):")
        train, ev, _ = measure(config, args.rounds)
        setting = f"{config.arch} {config.loss} {config.d_steps}:{config.g_steps}"
        summary["no-known-modes"] = report("no known modes", [(setting, train, ev)])
    print("\nmedian eval/train per study: " + ", ".join(f"{k} {v:.1%}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    sys.exit(main())
