"""Channels-last on the CPU: the real training loop of the default study config,
contiguous against channels-last, per architecture and loss family, side by side
in one run.

    python benchmarks/channels_last.py                  # the studies' archs and losses, 300 updates, 3 repetitions
    python benchmarks/channels_last.py --updates 600 --repeats 5 --cases dcgan,resnet
    python benchmarks/channels_last.py --quick          # tiny nets, a few updates: a test keeps it from rotting

Each case is `studies.declare.study.CPU_IMAGES` (32x32 stacked digits, batch 32, the
1:1 DCGAN widths) with one study's setting on top: dcgan (BCE), dcgan-deep,
upsample, resnet and vae as the architecture study trains them, dcgan under
the WGAN-GP, hinge and WGAN recipes (`search_spaces.common`), dcgan with
the normalization study's other D norms, WGAN-GP with a batch-norm D (to
tell its penalty from its layer norm), R1, the mode_collapse study's
packing, minibatch stddev and DiffAugment, and the conditional study's cGAN
(on digits). Every
repetition trains each case twice with the same seed, once per
`memory_format` (contiguous, channels_last; the order alternates between
repetitions), through `gan_core.train.train` on one torch thread, over the
periods between its evaluations after the first (the first holds the
warm-up). Two clocks: the loop's own `sec_per_round` (wall clock, training
only), and the CPU time of the training thread per round (read at each
report; it also holds one evaluation of 16 samples per period, the same for
both layouts), which other processes on a shared machine disturb far less.
It prints, per case and clock, the median ms per round of each layout, the
ratio contiguous / channels-last (above 1: channels-last is faster) as the
median of the per-repetition ratios with their range, and whether every
repetition of a layout gave the same losses (a seed fixes a run on the CPU
whatever the layout). `gan_core.devices.use_channels_last` makes
channels-last the CPU default where it was measured faster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from gan_core import TrainConfig
from gan_core.train import train
from search_spaces.architecture import ARCHITECTURES
from search_spaces.common import optimizer_setup
from studies.declare.study import CPU_IMAGES, SMOKE

LAYOUTS = ("contiguous", "channels_last")
CASES = {
    "dcgan": ARCHITECTURES[0],
    "upsample": ARCHITECTURES[1],
    "dcgan-deep": ARCHITECTURES[2],
    "resnet": ARCHITECTURES[3],
    "vae": ARCHITECTURES[4],
    "dcgan wgan-gp": optimizer_setup("wgan-gp"),
    "dcgan hinge": optimizer_setup("hinge"),
    "dcgan wgan": optimizer_setup("wgan"),
    # the normalization study's D norms under BCE, and WGAN-GP's penalty without its layer norm
    "dcgan layer-norm D": {"norm_d": "layer"},
    "dcgan spectral-norm D": {"norm_d": "spectral"},
    "dcgan no-norm D": {"norm_d": "none"},
    "dcgan wgan-gp batch-norm D": {**optimizer_setup("wgan-gp"), "norm_d": "batch"},
    "dcgan r1": {"r1_weight": 1.0},  # the other double backward through D
    # the mode_collapse study's mitigations that change D's input, and the conditional study's cGAN
    "dcgan pack": {"pack": 2},
    "dcgan mbstd": {"mbstd": True},
    "dcgan diffaugment": {"diffaug": "color,translation,cutout"},
    "dcgan cgan": {"dataset": "digits", "conditioning": "cgan"},
}


CLOCKS = ("wall", "cpu")


def measure(config: TrainConfig) -> tuple[dict, list]:
    """({clock: median seconds per round over the periods after the first}, the losses at every evaluation)."""
    reports, cpu = [], [time.thread_time()]

    def report(payload: dict) -> None:
        cpu.append(time.thread_time())
        reports.append(payload)

    train(config, report)
    rounds = [reports[0]["step"]] + [b["step"] - a["step"] for a, b in zip(reports, reports[1:])]
    per_round = {"wall": [r["metrics"]["sec_per_round"] for r in reports],
                 "cpu": [(b - a) / n for a, b, n in zip(cpu, cpu[1:], rounds)]}
    losses = [{k: v for k, v in r["metrics"].items() if k.startswith("loss")} for r in reports]
    return {k: statistics.median(v[1:] if len(v) > 1 else v) for k, v in per_round.items()}, losses


def compare(base: dict, repeats: int) -> dict:
    """Per clock and layout: seconds per round of each repetition; per layout, whether its repetitions'
    losses were one."""
    seconds = {clock: {k: [] for k in LAYOUTS} for clock in CLOCKS}
    losses = {k: [] for k in LAYOUTS}
    for rep in range(repeats):
        for layout in LAYOUTS if rep % 2 == 0 else LAYOUTS[::-1]:
            s, l = measure(TrainConfig.from_dict({**base, "memory_format": layout}))
            for clock in CLOCKS:
                seconds[clock][layout].append(s[clock])
            losses[layout].append(l)
    same = {k: all(l == losses[k][0] for l in losses[k]) for k in LAYOUTS}
    return {"seconds": seconds, "same": same}


def figures(seconds: dict) -> str:
    ratios = [a / b for a, b in zip(seconds["contiguous"], seconds["channels_last"])]
    return (f"contiguous {1000 * statistics.median(seconds['contiguous']):.1f} ms/round, channels_last "
            f"{1000 * statistics.median(seconds['channels_last']):.1f} ms/round, ratio {statistics.median(ratios):.3f} "
            f"(range {min(ratios):.3f}-{max(ratios):.3f} over {len(ratios)})")


def lines(name: str, result: dict) -> str:
    same = "yes" if all(result["same"].values()) else "no"
    return (f"{name} cpu time: {figures(result['seconds']['cpu'])}\n"
            f"{name} wall clock: {figures(result['seconds']['wall'])}; same losses each repetition: {same}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny nets and a few updates, dcgan and vae only")
    p.add_argument("--updates", type=int, help="network updates per training (default 300, --quick 24)")
    p.add_argument("--repeats", type=int, help="repetitions of each pair (default 3, --quick 2)")
    p.add_argument("--cases", help=f"comma-separated, of {', '.join(CASES)} (default all; --quick dcgan,vae)")
    args = p.parse_args()
    torch.set_num_threads(1)
    updates = args.updates or (24 if args.quick else 300)
    repeats = args.repeats or (2 if args.quick else 3)
    names = (args.cases or ("dcgan,vae" if args.quick else ",".join(CASES))).split(",")
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"--cases: {unknown[0]!r} is not one of {', '.join(CASES)}")
    base = {**CPU_IMAGES, **(SMOKE if args.quick else {}), "max_steps": updates, "eval_every": max(updates // 4, 2),
            "max_seconds": 0.0, "device": "cpu", "metrics": "none", "eval_samples": 16}
    print(f"torch {torch.__version__}, one thread; {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} "
          f"at the start; {updates} updates per training, {repeats} repetitions, ngf {base['ngf']} batch "
          f"{base['batch_size']} (resnet and vae as the architecture study sets them)", flush=True)
    for name in names:
        print(lines(name, compare({**base, **CASES[name]}, repeats)), flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    sys.exit(main())
