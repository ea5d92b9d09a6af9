"""Concurrency on one machine: N one-thread trials at once against one N-thread
trial, same config, both packed by Ray Tune as a study packs them (goal: the N
trials together train >= 1.6x as many images per second as the one, N = 2).

    python benchmarks/concurrency.py            # N = 2, the default study config (dg_ratio's 1:1 BCE DCGAN)
    python benchmarks/concurrency.py --quick    # tiny nets (the studies' --smoke settings); a test runs it
    python benchmarks/concurrency.py --trials 4 --max-steps 1200

Throughput is training images per second (batch x D updates per round over
the loop's own training time, evaluations excluded); see benchmarks/packed.py
for how each trial's rate is taken.
"""

from __future__ import annotations

import argparse
import os
import sys

from gan_core import TrainConfig
from packed import packed_rates
from studies.declare.study import CPU_IMAGES, SMOKE


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny nets and budget")
    p.add_argument("--trials", type=int, default=2, help="N (default 2: this machine's cores)")
    p.add_argument("--max-steps", type=int, help="budget per trial in network updates (default 1200, --quick 120)")
    args = p.parse_args()
    n = args.trials
    base = {**CPU_IMAGES, **(SMOKE if args.quick else {})}
    steps = args.max_steps or (120 if args.quick else 1200)
    config = TrainConfig.from_dict({**base, "max_steps": steps, "eval_every": steps // 6, "max_seconds": 0.0})
    print(f"config: {config.arch} ngf {config.ngf} batch {config.batch_size}, {steps} updates, "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start")
    many = packed_rates(config, n, cpus=1, gpus=0, threads=1)
    print(f"{n} one-thread trials at once: {sum(many):.1f} images/s together "
          f"({', '.join(f'{r:.1f}' for r in many)} each)", flush=True)
    one = packed_rates(config, 1, cpus=n, gpus=0, threads=n)[0]
    print(f"one {n}-thread trial: {one:.1f} images/s")
    print(f"ratio: {sum(many) / one:.2f} (goal >= 1.6)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sys.exit(main())
