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


def run(script: str, *args: str, timeout: int = 300) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
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


def test_gpu_quick_runs_on_the_cpu():
    out = run("gpu.py", "--quick")
    fp32, bf16, ratio = figures(r"^one trial: fp32 # images/s, bf16 \+ .* # images/s, ratio #", out)
    assert fp32 > 0 and bf16 > 0 and ratio > 0
    for n in (1, 2):
        together, each, speedup = figures(rf"^{n} trials sharing the device: # images/s together, # each, #x", out)
        assert together == pytest.approx(n * each, rel=0.01) and speedup > 0


def test_channels_last_quick_compares_both_layouts_on_both_clocks():
    out = run("channels_last.py", "--quick")
    for case in ("dcgan", "vae"):
        for clock in ("cpu time", "wall clock"):
            contiguous, last, ratio, low, high, n = figures(
                rf"^{case} {clock}: contiguous # ms/round, channels_last # ms/round, ratio # \(range #-# over #\)", out)
            assert contiguous > 0 and last > 0 and low <= ratio <= high and n == 2
        assert re.search(rf"^{case} wall clock: .*; same losses each repetition: yes$", out, re.M), out
