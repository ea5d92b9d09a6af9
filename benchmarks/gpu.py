"""GPU packing: images per second of one trial in fp32 against bf16 autocast
with channels-last, and the aggregate throughput of 1, 2, 4 and 8 trials
sharing one GPU, packed by Ray Tune with a GPU fraction of 1/N each (what
`--gpus-per-trial 1/N` asks for).

    python benchmarks/gpu.py                 # on a machine with CUDA: the real figures
    python benchmarks/gpu.py --quick         # tiny nets on the CPU (1 and 2 trials): a test keeps it from rotting
    python benchmarks/gpu.py --trials 1,2,4 --cpus-per-trial 2

Without CUDA (and without --quick) it says so and measures nothing: CPU
figures would say nothing about a GPU. On CUDA a trial's image tensors are
channels-last whatever the precision (`memory_format` auto, see
gan_core.devices.use_channels_last), so the fp32 row there is fp32 +
channels-last. Throughput is training images per
second (batch x D updates per round over the loop's own training time,
evaluations excluded; see benchmarks/packed.py).
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from gan_core import TrainConfig
from gan_core.devices import use_channels_last
from packed import bare_rate, packed_rates
from studies.declare.study import CPU_IMAGES, SMOKE


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny nets on the CPU, 1 and 2 trials")
    p.add_argument("--trials", help="comma-separated trial counts (default 1,2,4,8; --quick 1,2)")
    p.add_argument("--cpus-per-trial", type=int, default=1, help="CPUs (torch threads) per trial (default 1)")
    p.add_argument("--max-steps", type=int, help="budget per trial in network updates (default 3000, --quick 60)")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.quick:
        print("gpu: no CUDA device here; the GPU figures are still to be taken (run with --quick for the CPU check)")
        return 0
    levels = [int(n) for n in (args.trials or ("1,2" if args.quick else "1,2,4,8")).split(",")]
    steps = args.max_steps or (60 if args.quick else 3000)
    base = {**CPU_IMAGES, **(SMOKE if args.quick else {}), "max_steps": steps, "eval_every": max(steps // 6, 2),
            "max_seconds": 0.0, "device": "cuda" if cuda else "cpu"}
    device = torch.cuda.get_device_name(0) if cuda else "CPU (no CUDA: tiny sizes, a check of the path only)"
    print(f"device: {device}; config: {base['arch']} ngf {base['ngf']} batch {base['batch_size']}, {steps} updates; "
          f"{args.cpus_per_trial} CPU thread(s) per trial; {os.cpu_count()} CPU cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    rates = {}
    for precision in ("fp32", "bf16"):
        config = TrainConfig.from_dict({**base, "precision": precision})
        rates[precision] = bare_rate(config, args.cpus_per_trial)
    layout = "channels-last" if use_channels_last(config, "cuda" if cuda else "cpu", "images") else "contiguous"
    print(f"one trial: fp32 {rates['fp32']:.1f} images/s, bf16 + {layout} {rates['bf16']:.1f} images/s, "
          f"ratio {rates['bf16'] / rates['fp32']:.2f}")
    config = TrainConfig.from_dict({**base, "precision": "auto"})
    single = None
    for n in levels:
        each = packed_rates(config, n, cpus=args.cpus_per_trial, gpus=(1 / n) if cuda else 0,
                            threads=args.cpus_per_trial)
        single = single or sum(each) / n
        print(f"{n} trials sharing the device: {sum(each):.1f} images/s together, {sum(each) / n:.1f} each, "
              f"{sum(each) / single:.2f}x one trial alone", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sys.exit(main())
