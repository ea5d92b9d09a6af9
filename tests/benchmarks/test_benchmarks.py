"""The benchmarks keep working: each script's `--quick` mode runs as a user would
run it, in a subprocess (real Ray, a real MLflow server and store), and the
figures it prints parse and are sane. The figures themselves are the
machine's; only their shape and the invariants (same losses, no lost step)
are checked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"([-+]?[\d.]+|nan)"


def launch(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "RAY_AUTH_MODE": "disabled"}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run(script: str, *args: str, timeout: int = 300) -> str:
    proc = launch(script, *args, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def figures(pattern: str, text: str) -> tuple[float, ...]:
    match = re.search(pattern.replace("#", NUMBER), text, re.M)
    assert match, f"no line matching {pattern!r} in:\n{text}"
    return tuple(float(v) for v in match.groups())


def test_overhead_quick_compares_the_same_trial_bare_and_as_a_study():
    out = run("overhead.py", "--quick", "--repeats", "2", timeout=600)
    bare, study, ratio = figures(r"^rounds/s whole trial: bare #, study #, ratio #", out)
    assert bare > 0 and study > 0 and ratio == pytest.approx(study / bare, abs=0.01)
    assert 0 < figures(r"^rounds/s steady: bare #, study #, ratio #", out)[2]
    launch, bare_first, today = figures(
        r"^launch to first round: study # s \(goal <= 3 s\), bare # s; today's path # s, side by side", out)
    assert launch > bare_first >= 0 and today > 0
    assert len(figures(r"^  each study: new #, # s; today #, # s", out)) == 4  # two studies on each path
    new_cpu, today_cpu = figures(r"^  the worker's CPU time from its start to the first round .*: new # s, today # s",
                                 out)
    assert 0 < new_cpu and 0 < today_cpu
    # the trial's MLflow side is made in a thread beside the first rounds: its time is printed, whenever it ended
    assert figures(r"^  beside them, in a thread: MLflow imported, client and child run # s", out)[0] > 0
    for name in ("scoring: study", "MLflow metrics batch:", "MLflow image:", "checkpoint and tune.report:",
                 "MLflow writes \\(metrics \\+ image\\):"):
        assert figures(rf"^  {name} # ms", out)[0] > 0, name
    assert "same losses at every evaluation: yes" in out  # every study, both paths, trained the bare loop's trial


def test_tracking_load_quick_loses_no_step():
    out = run("tracking_load.py", "--quick")
    writes, p50, p99, retried, failed, lost_metrics, lost_images = figures(
        r"^sqlite N=4: evaluation writes #, p50 # ms, p99 # ms, retried #, failed #, lost steps # metrics # images", out)
    assert writes == 4 * 3 * 2  # 4 trials, 3 evaluations, a metrics batch and an image each
    assert 0 < p50 <= p99
    assert failed == 0 and lost_metrics == 0 and lost_images == 0
    assert "postgresql" not in out  # --quick needs no database server


def test_concurrency_quick_measures_both_sides():
    out = run("concurrency.py", "--quick")
    assert figures(r"^2 one-thread trials at once: # images/s together", out)[0] > 0
    assert figures(r"^one 2-thread trial: # images/s", out)[0] > 0
    assert figures(r"^ratio: # \(goal >= 1.6\)", out)[0] > 0


def test_gpu_quick_says_what_it_measured_and_where():
    """Without CUDA, --quick runs the CPU path and says it measured nothing on a GPU, and a plain run refuses with a
    clear message; with CUDA, --quick measures on the GPU. Either way every row and packing level prints its
    figures: rows against the fp32 one, one row marked as auto's, N trials' images/s the sum of each one's over the
    shared window."""
    import torch

    cuda = torch.cuda.is_available()
    if not cuda:
        proc = launch("gpu.py")
        assert proc.returncode == 1 and proc.stdout == "", proc.stdout + proc.stderr
        assert "no CUDA device here: nothing was measured" in proc.stderr
    out = run("gpu.py", "--quick", timeout=900)
    if cuda:
        rows = ["fp32 (TF32 off), contiguous", "fp32 (TF32 off), channels-last",
                "fp32 (torch TF32 defaults), contiguous", "fp32 (torch TF32 defaults), channels-last",
                "bf16 autocast, contiguous", "bf16 autocast, channels-last"]
        memory = r"peak allocated # MiB, peak reserved # MiB, device memory held # MiB \(outside torch's allocator # MiB\)"
        packed_memory = r"peak allocated # MiB, peak reserved # MiB a trial at most, device memory in use # MiB"
        assert "NO CUDA DEVICE" not in out and out.startswith("device: ")
    else:
        rows = ["fp32, contiguous", "fp32, channels-last", "bf16 autocast, contiguous", "bf16 autocast, channels-last"]
        memory = r"peak resident # MiB \(the process, on the CPU\)"
        packed_memory = r"peak resident # MiB a trial at most \(on the CPU\)"
        assert out.startswith("gpu: NO CUDA DEVICE: nothing was measured on a GPU.")
        assert out.rstrip().endswith("gpu: nothing was measured on a GPU (no CUDA device here)")
    for config in ("cpu", "gpu"):
        assert re.search(rf"^config {config}: 32x32 .*; dcgan nz 32 ngf 16 ndf 16, batch 32", out, re.M), out
        found = re.findall(rf"^\[{config}\] one trial, (.+?): .*$", out, re.M)
        assert found == rows, out
        base = None
        for row in rows:
            line = re.escape(f"[{config}] one trial, {row}: ")
            rate, ratio = figures(rf"^{line}# images/s \(#x fp32\)(?:; what auto picks here)?; {memory}$", out)[:2]
            base = base or rate
            assert rate > 0 and ratio == pytest.approx(rate / base, abs=0.01)
        assert len(re.findall(rf"^\[{config}\] one trial, .*; what auto picks here;", out, re.M)) == 1, out
        for n in (1, 2):
            together, window, each, low, high, versus = figures(
                rf"^\[{config}\] {n} trials? at once \(.+?\): # images/s together over a # s window, # each "
                rf"\(#-#\), #x the auto row; {packed_memory}$", out)[:6]
            assert together > 0 and window > 0 and versus > 0
            assert together == pytest.approx(n * each, rel=0.01) and low <= each <= high


def test_channels_last_quick_compares_both_layouts_on_both_clocks():
    out = run("channels_last.py", "--quick")
    for case in ("dcgan", "vae"):
        for clock in ("cpu time", "wall clock"):
            contiguous, last, ratio, low, high, n = figures(
                rf"^{case} {clock}: contiguous # ms/round, channels_last # ms/round, ratio # \(range #-# over #\)", out)
            assert contiguous > 0 and last > 0 and low <= ratio <= high and n == 2
        assert re.search(rf"^{case} wall clock: .*; same losses each repetition: yes$", out, re.M), out
