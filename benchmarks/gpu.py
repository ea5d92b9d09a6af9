"""Training throughput and memory of GAN trials on one GPU: fp32 (TF32 off)
beside TF32, bf16 and channels-last, one trial alone, and 1, 2, 4 and 8
trials packed on the device at once, for the studies' CPU config and a
GPU-sized one, side by side in one run.

    python benchmarks/gpu.py                        # with CUDA: both configs, every row, 1, 2, 4, 8 trials
    python benchmarks/gpu.py --configs gpu --trials 1,4 --seconds 30
    python benchmarks/gpu.py --gpu-dataset folder:/data/faces --set batch_size=128   # the 64x64 config on real images
    python benchmarks/gpu.py --quick                # tiny sizes, short windows, 1 and 2 trials (a test runs it)

Every figure comes from trial processes (spawned, as a Ray worker is one)
that build the run with `gan_core.train.build` (so the device decisions of
`gan_core.devices` apply: precision, memory format, the dataset copy bounded
by the trial's share of the device) and then call `gan_core.steps.one_round`
themselves: warm-up rounds first, then a timed span that starts when every
trial of the measurement is ready (a barrier) and runs for `--seconds`,
`torch.cuda.synchronize()` after every `--sync-every` rounds and at its end,
each synchronized point time-stamped. Evaluations are not run: this is the
cost of training rounds. Images/s are the real images D sees (batch x D
updates per round).

  * One trial alone, per row: fp32 with TF32 off (`allow_tf32` False for
    matmuls and cuDNN), contiguous; the same channels-last; fp32 under
    torch's TF32 defaults (cuDNN convolutions in TF32; what `precision fp32`
    gets in a study), contiguous and channels-last; bf16 autocast,
    contiguous and channels-last. The row `auto` picks on this device is
    marked. Memory: `torch.cuda.max_memory_allocated` (tensors) and
    `max_memory_reserved` (torch's caching allocator), and the device memory
    the trial's process held in all (`torch.cuda.mem_get_info` before it
    started and at its end), whose part outside the allocator is its CUDA
    context, kernels and libraries.
  * N trials at once (precision and memory format auto, each given 1/N of
    the device as a study's `--gpus-per-trial 1/N` gives it): images/s
    together are the images all trials trained inside the shared window,
    from the last trial's start to the first trial's end (each trial's
    synchronized time stamps, interpolated), over that window's length;
    and the device memory the N trials held together at the first end.

Without CUDA it measured nothing on a GPU and says so: `--quick` then runs
the CPU path at tiny sizes (a check that the script works; the CPU figures
say nothing about a GPU) and exits 0, and without `--quick` it exits 1
having run nothing. docs/performance-gpu.md describes the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from gan_core import TrainConfig
from gan_core.devices import capability, use_bf16, use_channels_last
from studies.declare.study import CPU_IMAGES, SMOKE

MIB = 2 ** 20
GENERATED = "generated"  # --gpu-dataset: a folder of images written by this script (stacked digits as PNG)
# the GPU-sized config: 64x64 RGB, the DCGAN paper's widths (ngf = ndf = 64, nz 100), a batch that loads a GPU
GPU_IMAGES = dict(arch="dcgan", image_size=64, nz=100, ngf=64, ndf=64, batch_size=256)
GENERATED_IMAGES = 4096  # images in the generated folder (--quick: QUICK_IMAGES at 32x32)
QUICK_IMAGES = 64
# no evaluation runs: what the loop's own evaluator would fit is left out of the build
MEASURE = dict(metrics="none", eval_samples=16, max_steps=10 ** 6, eval_every=10 ** 6, max_seconds=0.0)
START_TIMEOUT = 900.0  # seconds every trial of a measurement may take to build and warm up
# (precision, memory_format, TF32 off): one trial alone; TF32 rows left to torch's defaults on the CPU are dropped
ROWS = (("fp32", "contiguous", True), ("fp32", "channels_last", True),
        ("fp32", "contiguous", False), ("fp32", "channels_last", False),
        ("bf16", "contiguous", False), ("bf16", "channels_last", False))
LAYOUT = {"contiguous": "contiguous", "channels_last": "channels-last"}


# --- in a trial process -------------------------------------------------------------------

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(job: dict, barrier) -> dict:
    """Build the run, warm it up, wait for every trial of the measurement, then train for `job['seconds']`,
    synchronized every `job['sync_every']` rounds; the synchronized time stamps and the memory figures."""
    from gan_core.steps import one_round
    from gan_core.train import build

    torch.set_num_threads(job["threads"])
    if job["tf32_off"]:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    config = TrainConfig.from_dict(job["config"])
    run = build(config, job["share"])
    for _ in range(job["warmup"]):
        one_round(run)
    sync(run.device)
    barrier.wait(timeout=START_TIMEOUT)
    start = time.monotonic()  # one clock for every process of the machine
    marks, rounds = [(start, 0)], 0
    while marks[-1][0] - start < job["seconds"]:
        for _ in range(job["sync_every"]):
            one_round(run)
        rounds += job["sync_every"]
        sync(run.device)
        marks.append((time.monotonic(), rounds))
    out = {"index": job["index"], "marks": marks, "images_per_round": config.batch_size * config.d_steps,
           "bf16": run.amp, "channels_last": run.channels_last}
    if run.device.type == "cuda":
        out.update(allocated=torch.cuda.max_memory_allocated(run.device),
                   reserved=torch.cuda.max_memory_reserved(run.device),
                   reserved_now=torch.cuda.memory_reserved(run.device),
                   free_at_end=torch.cuda.mem_get_info(run.device)[0])
    else:
        out["rss"] = peak_resident()
    return out


def peak_resident() -> int:
    """Bytes of this process's peak resident memory: VmHWM (since its exec: a spawned process's ru_maxrss
    also holds its parent's, from the fork before the exec), else ru_maxrss (KiB on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def trial_process(job: dict, barrier, results) -> None:
    try:
        results.put(measure(job, barrier))
    except BaseException as err:  # the parent stops the others and names this one
        barrier.abort()
        results.put({"index": job["index"], "error": f"{type(err).__name__}: {err}"})
        raise


# --- in the parent ----------------------------------------------------------------------------

def device_free(cuda: bool) -> int | None:
    """Free bytes of device 0 (device-wide: every process on it counts), None on the CPU."""
    return torch.cuda.mem_get_info(0)[0] if cuda else None


def run_together(jobs: list[dict]) -> list[dict]:
    """Each job in its own spawned process, their timed spans started together; their results, in job order."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(jobs)), ctx.Queue()
    procs = [ctx.Process(target=trial_process, args=(job, barrier, results), daemon=True) for job in jobs]
    for proc in procs:
        proc.start()
    collected: dict[int, dict] = {}
    try:
        while len(collected) < len(jobs):
            try:
                result = results.get(timeout=1.0)
            except queue.Empty:
                dead = [i for i, p in enumerate(procs) if p.exitcode not in (None, 0) and i not in collected]
                if dead and results.empty():
                    time.sleep(1.0)  # a result put just before the exit may still be on its way
                    if results.empty():
                        raise RuntimeError(f"trial {dead[0]} ended (exit code {procs[dead[0]].exitcode}) "
                                           f"without a result") from None
                continue
            if "error" in result:
                raise RuntimeError(f"trial {result['index']} failed: {result['error']}")
            collected[result["index"]] = result
    finally:
        barrier.abort()  # a trial still waiting at the start is released, and fails
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
                proc.join()
    return [collected[i] for i in range(len(jobs))]


def rounds_at(marks: list[tuple[float, int]], t: float) -> float:
    """Rounds a trial had finished at time t, interpolated between its synchronized time stamps."""
    for (t0, r0), (t1, r1) in zip(marks, marks[1:]):
        if t0 <= t <= t1:
            return r0 + (r1 - r0) * (t - t0) / (t1 - t0) if t1 > t0 else r1
    raise ValueError("t is outside the trial's timed span")


def window_rates(results: list[dict]) -> tuple[float, float, list[float]]:
    """(images/s of all trials together, the window's seconds, each trial's images/s) over the shared window:
    from the last start to the first end."""
    start = max(r["marks"][0][0] for r in results)
    end = min(r["marks"][-1][0] for r in results)
    if end <= start:
        raise RuntimeError("the trials' timed spans do not overlap; raise --seconds")
    each = [r["images_per_round"] * (rounds_at(r["marks"], end) - rounds_at(r["marks"], start)) / (end - start)
            for r in results]
    return sum(each), end - start, each


def memory_of_one(result: dict, free_before: int | None) -> str:
    if "rss" in result:
        return f"peak resident {result['rss'] / MIB:.1f} MiB (the process, on the CPU)"
    held = free_before - result["free_at_end"]
    return (f"peak allocated {result['allocated'] / MIB:.1f} MiB, peak reserved {result['reserved'] / MIB:.1f} MiB, "
            f"device memory held {held / MIB:.1f} MiB (outside torch's allocator "
            f"{(held - result['reserved_now']) / MIB:.1f} MiB)")


def memory_of_many(results: list[dict], free_before: int | None) -> str:
    if "rss" in results[0]:
        return f"peak resident {max(r['rss'] for r in results) / MIB:.1f} MiB a trial at most (on the CPU)"
    held = free_before - min(r["free_at_end"] for r in results)  # the first to end saw every trial still there
    return (f"peak allocated {max(r['allocated'] for r in results) / MIB:.1f} MiB, peak reserved "
            f"{max(r['reserved'] for r in results) / MIB:.1f} MiB a trial at most, device memory in use "
            f"{held / MIB:.1f} MiB ({held / len(results) / MIB:.1f} a trial, contexts included)")


def row_label(precision: str, layout: str, tf32_off: bool, cuda: bool) -> str:
    if precision == "bf16":
        return f"bf16 autocast, {LAYOUT[layout]}"
    if not cuda:
        return f"fp32, {LAYOUT[layout]}"
    return f"fp32 ({'TF32 off' if tf32_off else 'torch TF32 defaults'}), {LAYOUT[layout]}"


def auto_row(config: TrainConfig, cuda: bool) -> tuple[str, str, bool]:
    """The row `precision auto` and `memory_format auto` amount to on this device (torch's TF32 defaults)."""
    device = torch.device("cuda" if cuda else "cpu")
    bf16 = use_bf16("auto", device.type, capability(device))
    layout = "channels_last" if use_channels_last(config, device.type, "images") else "contiguous"
    return ("bf16" if bf16 else "fp32", layout, not cuda and not bf16)


def write_generated(folder: Path, n: int, size: int) -> None:
    """n stacked-digit images (the embedded dataset's, seed 0) as size x size PNG files: a folder dataset made
    offline that trains as CelebA or a folder of faces does (decoded once, copied onto the device)."""
    from PIL import Image

    from gan_core.datasets import stacked_digits

    images = stacked_digits(size).sample(n, torch.Generator().manual_seed(0))
    pixels = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(pixels):
        Image.fromarray(image).save(folder / f"{i:05d}.png")


def parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"gpu: --set {item!r} is not KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def on_off(flag: bool) -> str:
    return "on" if flag else "off"


def describe(name: str, config: TrainConfig, dataset: str) -> str:
    return (f"config {name}: {config.image_size}x{config.image_size} {dataset}; {config.arch} "
            f"nz {config.nz} ngf {config.ngf} ndf {config.ndf}, batch {config.batch_size}, loss {config.loss} "
            f"{config.d_steps}:{config.g_steps}")


def make_configs(args, cuda: bool, scratch: Path) -> dict[str, tuple[TrainConfig, str]]:
    """{name: (its TrainConfig, how to show its dataset)} for the configs asked; the generated folder is written
    under `scratch`."""
    configs = {}
    if "cpu" in args.configs:
        shown = "stacked-digits (ships with the install; the studies' CPU config" + (
            ", at --quick sizes)" if args.quick else ")")
        configs["cpu"] = ({**CPU_IMAGES, **(SMOKE if args.quick else {})}, shown)
    if "gpu" in args.configs:
        gpu = {**GPU_IMAGES, **({**SMOKE, "image_size": 32} if args.quick else {})}
        if args.gpu_dataset == GENERATED:
            n = QUICK_IMAGES if args.quick else GENERATED_IMAGES
            write_generated(scratch / "images", n, gpu["image_size"])
            os.environ["GAN_STUDIES_CACHE"] = str(scratch / "cache")  # the decoded array goes with the folder
            gpu["dataset"] = f"folder:{scratch / 'images'}"
            shown = (f"a folder of {n} generated images (stacked digits written as PNG; decoded once and copied "
                     f"onto the device, as CelebA or a folder of faces is)")
        else:
            gpu["dataset"] = shown = args.gpu_dataset
        configs["gpu"] = (gpu, shown)
    overrides = {**MEASURE, **parse_set(args.set), "device": "cuda" if cuda else "cpu"}
    return {name: (TrainConfig.from_dict({**values, **overrides}), shown) for name, (values, shown) in configs.items()}


def print_header(cuda: bool, args) -> None:
    if cuda:
        index = torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        free, total = torch.cuda.mem_get_info(index)
        print(f"device: {torch.cuda.get_device_name(index)}, compute capability {major}.{minor}, "
              f"{total / MIB:.0f} MiB, {(total - free) / MIB:.0f} MiB in use before any trial (this script's own CUDA context included); "
              f"torch {torch.__version__}, CUDA {torch.version.cuda}; torch's TF32 defaults: cuDNN "
              f"{on_off(torch.backends.cudnn.allow_tf32)}, matmuls {on_off(torch.backends.cuda.matmul.allow_tf32)}")
    else:
        print("gpu: NO CUDA DEVICE: nothing was measured on a GPU. What follows is the CPU path at --quick sizes, "
              "a check that the script runs; its figures say nothing about a GPU.")
        print(f"device: CPU; torch {torch.__version__}")
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the start; {args.cpus_per_trial} "
          f"torch thread(s) per trial; each trial {args.warmup} warm-up rounds, then {args.seconds:g} s timed, "
          f"synchronized every {args.sync_every} rounds", flush=True)


def job(config: TrainConfig, args, i: int, share: float, tf32_off: bool) -> dict:
    """What trial process i of a measurement runs: `config` with seed i, `share` of the device."""
    return {"index": i, "config": config.replace(seed=i).to_dict(), "share": share, "tf32_off": tf32_off,
            "threads": args.cpus_per_trial, "warmup": args.warmup, "seconds": args.seconds,
            "sync_every": args.sync_every}


def one_trial_rows(name: str, config: TrainConfig, args, cuda: bool) -> float:
    """Each row, one trial alone with the whole device, printed; returns the images/s of the row auto picks."""
    auto, base, auto_rate = auto_row(config, cuda), None, None
    for precision, layout, tf32_off in ROWS:
        if not cuda and not tf32_off and precision == "fp32":
            continue  # TF32 is a CUDA setting: the CPU has one fp32
        row = config.replace(precision=precision, memory_format=layout)
        free_before = device_free(cuda)
        [result] = run_together([job(row, args, 0, 1.0, tf32_off and cuda)])
        rate = window_rates([result])[0]
        base = base or rate
        picked = (precision, layout, tf32_off) == auto
        auto_rate = rate if picked else auto_rate
        print(f"[{name}] one trial, {row_label(precision, layout, tf32_off, cuda)}: {rate:.1f} images/s "
              f"({rate / base:.2f}x fp32){'; what auto picks here' if picked else ''}; "
              f"{memory_of_one(result, free_before)}", flush=True)
    return auto_rate


def packed_levels(name: str, config: TrainConfig, args, cuda: bool, alone: float) -> None:
    """N trials at once on the device, 1/N of it each, for each N asked, printed."""
    for n in args.trials:
        free_before = device_free(cuda)
        results = run_together([job(config, args, i, 1.0 / n, False) for i in range(n)])
        together, window, each = window_rates(results)
        resolved = (f"{'bf16' if results[0]['bf16'] else 'fp32'}, "
                    f"{'channels-last' if results[0]['channels_last'] else 'contiguous'}")
        print(f"[{name}] {n} trial{'s' if n > 1 else ''} at once ({resolved}): {together:.1f} images/s together "
              f"over a {window:.2f} s window, {statistics.mean(each):.1f} each ({min(each):.1f}-{max(each):.1f}), "
              f"{together / alone:.2f}x the auto row; {memory_of_many(results, free_before)}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, short windows, 1 and 2 trials; without CUDA the CPU path (a check only)")
    p.add_argument("--configs", default="cpu,gpu", help="cpu (the studies' CPU config), gpu (64x64, batch 256, "
                                                        "ngf/ndf 64), or both (default cpu,gpu)")
    p.add_argument("--trials", help="trials on the device at once, comma-separated (default 1,2,4,8; --quick 1,2)")
    p.add_argument("--seconds", type=float, help="timed span of each trial (default 20, --quick 1.5)")
    p.add_argument("--warmup", type=int, help="untimed rounds before it (default 20, --quick 2)")
    p.add_argument("--sync-every", type=int, help="rounds between synchronized time stamps (default 10, --quick 2)")
    p.add_argument("--cpus-per-trial", type=int, help="torch threads per trial (default 2 with CUDA, else 1)")
    p.add_argument("--gpu-dataset", default=GENERATED,
                   help=f"dataset of the gpu config: {GENERATED} (default: {GENERATED_IMAGES} stacked-digit images "
                        "written as a folder) or any TrainConfig dataset (celeba, folder:PATH)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a TrainConfig field for every config (repeatable): --set batch_size=128")
    args = p.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.quick:
        print("gpu: no CUDA device here: nothing was measured, on a GPU or elsewhere. Run it where torch sees a "
              "GPU; --quick runs the CPU path at tiny sizes, a check of the script only.", file=sys.stderr)
        return 1
    args.configs = args.configs.split(",")
    if any(n not in ("cpu", "gpu") for n in args.configs):
        p.error(f"--configs: {','.join(args.configs)!r} is not cpu, gpu or cpu,gpu")
    args.trials = [int(n) for n in (args.trials or ("1,2" if args.quick else "1,2,4,8")).split(",")]
    args.seconds = args.seconds or (1.5 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.quick else 20)
    args.sync_every = args.sync_every or (2 if args.quick else 10)
    args.cpus_per_trial = args.cpus_per_trial or (2 if cuda else 1)
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as scratch:
        try:
            configs = make_configs(args, cuda, Path(scratch))
        except ValueError as err:  # a --set or --gpu-dataset TrainConfig refuses
            p.error(str(err))
        print_header(cuda, args)
        for name, (config, shown) in configs.items():
            print(describe(name, config, shown), flush=True)
        for name, (config, _) in configs.items():
            packed_levels(name, config, args, cuda, one_trial_rows(name, config, args, cuda))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    if not cuda:
        print("gpu: nothing was measured on a GPU (no CUDA device here)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    sys.exit(main())
