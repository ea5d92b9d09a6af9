"""What a study costs beyond its training: the same trial (config, seed, rounds)
trained by the bare loop and as a one-trial study through Ray Tune, MLflow and
checkpoints, side by side in one run.

    python benchmarks/overhead.py            # a trial of about two minutes (dg_ratio's 1:1 BCE DCGAN)
    python benchmarks/overhead.py --quick    # tiny nets, a few seconds of training (a test runs it)
    python benchmarks/overhead.py --max-steps 6000 --tracking-uri http://127.0.0.1:5000

The bare side is `gan_core.train` with a `report` that only notes the time.
The study side is `studies.run.execute.execute` on a one-setting, one-seed plan
(FIFO, sqlite MLflow store and Tune storage in a temporary folder), with
Ray started first (once per study, timed on its own). To see where a trial's
time goes, the trial runs the real `gan_trainable` inside a wrapper that
notes the time around a few of the real functions it calls (`open_run`, which
makes the child run in a thread beside the build; `find_or_create_child`,
`build`, the first round, the report callback, `log_metrics`, `log_image`);
nothing is replaced. It prints:

- rounds/s of both, and their ratio, over the whole trial (from the trial's
  launch, or the call to `train`, to its last evaluation) and steady (first to
  last evaluation); goal: >= 0.95 on a two-minute trial;
- launch to the first round (goal: <= 3 s) and its parts: the worker process,
  the trainable's imports, the build (dataset, nets, scorer), MLflow's child
  run and tags (made in a thread beside the build), and, timed apart in a
  fresh process, the imports a trial needs;
- per evaluation: scoring (the loop's own `eval_seconds`), the MLflow metrics
  batch, the sample image, the checkpoint with `tune.report`; goal: <= 60 ms
  of MLflow writes (metrics + image).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gan_core.train import train
from studies.declare.cli import make_plan
from studies.declare.study import CPU_IMAGES, SMOKE, Study

MARKS_ENV = "GAN_STUDIES_BENCH_MARKS"  # where the trial's wrapper writes its timestamps
# dg_ratio's 1:1 BCE setting; 3,000 updates (1,500 rounds) are about two minutes on one CPU thread
STUDY = Study(name="overhead", summary="one trial, for benchmarks/overhead.py", base={**CPU_IMAGES, "max_steps": 3000},
              space=lambda: {"loss": {"grid_search": ["bce"]}}, seeds=1, smoke=SMOKE, smoke_seeds=1)
# in a fresh process: the imports a trial needs, then opening the study's MLflow store as a trial does
FRESH = """import sys, time
t = time.perf_counter()
import studies.run.trainable
t2 = time.perf_counter()
from mlflow.tracking import MlflowClient
MlflowClient(sys.argv[1]).search_experiments(max_results=1)
print(t2 - t, time.perf_counter() - t2)"""


# --- the trial's side: the real trainable, timed from the outside --------------------------

def process_start() -> float:
    """This process's start as a Unix time (/proc: boot time + start ticks)."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                if line.startswith("btime"))
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def timed(module, name: str, marks: dict, key: str) -> None:
    """Replace module.name by a pass-through that notes (start, end) of each call in marks[key]."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        start = time.time()
        try:
            return real(*args, **kwargs)
        finally:
            marks.setdefault(key, []).append((start, time.time()))

    setattr(module, name, wrapper)


def timed_trainable(trial_config: dict, study: dict) -> None:
    """`studies.run.trainable.gan_trainable` as it is, with timestamps around the calls that matter."""
    marks = {"enter": time.time(), "process_start": process_start()}
    import studies.run.trainable as trainable
    from gan_core import steps

    marks["imported"] = time.time()
    real_open = trainable.open_run

    def open_run(*args, **kwargs):  # the trial's MLflow side, in its thread: MLflow is imported there
        start = time.time()
        from studies.run import tracking

        timed(tracking, "find_or_create_child", marks, "run")
        timed(tracking, "log_metrics", marks, "metrics")
        timed(tracking, "log_image", marks, "image")
        try:
            return real_open(*args, **kwargs)
        finally:
            marks.setdefault("open", []).append((start, time.time()))

    trainable.open_run = open_run
    timed(sys.modules["gan_core.train"], "build", marks, "build")
    one_round = steps.one_round

    def first_round(run):
        marks["first_round"] = time.time()
        steps.one_round = one_round
        one_round(run)

    steps.one_round = first_round
    real_train = trainable.train

    def timed_train(config, report, state=None):
        marks["train"] = time.time()

        def timed_report(payload):
            start = time.time()
            report(payload)
            marks.setdefault("report", []).append((start, time.time()))
            marks.setdefault("evals", []).append(evaluation(payload))

        return real_train(config, timed_report, state)

    trainable.train = timed_train
    try:
        trainable.gan_trainable(trial_config, study)
    finally:
        Path(os.environ[MARKS_ENV]).write_text(json.dumps(marks))


def evaluation(payload: dict) -> dict:
    """What the side-by-side comparison needs of one report."""
    m = payload["metrics"]
    return {"step": payload["step"], "eval_seconds": m.get("eval_seconds", 0.0),
            "sec_per_round": m["sec_per_round"], "loss_d": m.get("loss_d")}


# --- the driver's side --------------------------------------------------------------------

def bare(config) -> dict:
    """The bare loop: `train` with a report that notes the time; when it was called, when each evaluation came."""
    evals = []

    def report(payload):
        evals.append((time.time(), evaluation(payload)))

    start = time.time()
    train(config, report)
    return {"start": start, "reports": [t for t, _ in evals], "evals": [e for _, e in evals]}


def study(plan, folder: Path) -> dict:
    """The one-trial study through `execute`, Ray started first; the trial's timestamps and the launch."""
    import ray
    from studies.run import execute as ex

    os.environ[MARKS_ENV] = str(folder / "marks.json")
    tick = time.time()
    ex.start_ray(plan)
    ray_start = time.time() - tick
    launch = {}
    real_run_tuner = ex.run_tuner

    def run_tuner(*args, **kwargs):
        launch["at"] = time.time()
        return real_run_tuner(*args, **kwargs)

    ex.run_tuner, ex.gan_trainable = run_tuner, timed_trainable
    log, cwd = folder / "study.log", os.getcwd()
    try:
        os.chdir(folder)  # the study's report folder lands here
        with open(log, "w") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = ex.execute(plan)
    finally:
        os.chdir(cwd)
        ray.shutdown()
    if code != 0 or not (folder / "marks.json").exists():
        sys.exit(f"overhead: the study failed (exit code {code}):\n{log.read_text()[-3000:]}")
    marks = json.loads((folder / "marks.json").read_text())
    return {**marks, "launch": launch["at"], "ray_start": ray_start,
            "reports": [start for start, _ in marks["report"]]}


def fresh_process(uri: str) -> tuple[float, float]:
    """Seconds a fresh process takes to import what a trial needs before its first round (`studies.run.trainable`:
    torch, Ray Tune, gan_core), then to import MLflow, open the study's store (an existing one) and make one call."""
    out = subprocess.run([sys.executable, "-c", FRESH, uri], capture_output=True, text=True, check=True)
    imports, store = out.stdout.strip().splitlines()[-1].split()
    return float(imports), float(store)


def rates(run: dict, start: float, end: float) -> tuple[float, float]:
    """Rounds/s over the whole trial (start to the end of the last evaluation) and steady (first to last evaluation)."""
    steps, reports = [e["step"] for e in run["evals"]], run["reports"]
    steady = (steps[-1] - steps[0]) / (reports[-1] - reports[0]) if len(steps) > 1 else float("nan")
    return steps[-1] / (end - start), steady


def ms(values) -> float:
    return 1000 * statistics.median(values) if values else float("nan")


def show(config, b: dict, s: dict, fresh: tuple[float, float]) -> None:
    evals = s["evals"]
    rounds, n = evals[-1]["step"], len(evals)
    print(f"trial: {config.arch} {config.loss} {config.d_steps}:{config.g_steps}, batch {config.batch_size}, "
          f"{rounds} rounds ({config.max_steps} {config.budget}), {n} evaluations of {config.eval_samples} samples, "
          f"1 torch thread, MLflow store {s['store']}; {os.cpu_count()} CPU cores, load average "
          f"{s['load']:.1f} at the start")
    bare_end = b["reports"][-1]
    study_end = s["report"][-1][1]
    bare_whole, bare_steady = rates(b, b["start"], bare_end)
    study_whole, study_steady = rates(s, s["launch"], study_end)
    print(f"rounds/s whole trial: bare {bare_whole:.3f}, study {study_whole:.3f}, "
          f"ratio {study_whole / bare_whole:.3f} (goal >= 0.95 on a two-minute trial)")
    print(f"rounds/s steady: bare {bare_steady:.3f}, study {study_steady:.3f}, ratio {study_steady / bare_steady:.3f}")
    first = b["evals"][0]
    bare_first = b["reports"][0] - first["eval_seconds"] - first["step"] * first["sec_per_round"] - b["start"]
    launch = s["first_round"] - s["launch"]
    run_start, run_end = s["run"][0]
    build_start, build_end = s["build"][0]
    print(f"launch to first round: study {launch:.2f} s (goal <= 3 s), bare {bare_first:.2f} s")
    print(f"  Tune launch to trainable entered (actor, worker process, unpickling = imports): "
          f"{s['enter'] - s['launch']:.2f} s; the worker process started {s['process_start'] - s['launch']:+.2f} s "
          f"from launch")
    print(f"  in a fresh process, timed apart: importing the trainable {fresh[0]:.2f} s, then importing MLflow, "
          f"opening the store and one call {fresh[1]:.2f} s")
    open_start, open_end = s["open"][0]
    print(f"  trainable entered to train(): {s['train'] - s['enter']:.2f} s, of which importing the trainable "
          f"(torch, Ray Tune, gan_core; MLflow is imported in the thread below) {s['imported'] - s['enter']:.2f} s")
    print(f"  build (dataset, nets, scorer): {build_end - build_start:.2f} s; "
          f"build to first round: {s['first_round'] - build_end:.2f} s")
    print(f"  beside them, in a thread: MLflow imported, client and child run {run_end - open_start:.2f} s, "
          f"with the tags {open_end - open_start:.2f} s; ready {open_end - s['first_round']:+.2f} s from the first round "
          f"(the first evaluation waits for it)")
    metrics = [b - a for a, b in s["metrics"]]
    images = [b - a for a, b in s["image"]]
    reports = [b - a for a, b in s["report"]]
    rest = [r - m - i for r, m, i in zip(reports, metrics, images)]
    writes = [m + i for m, i in zip(metrics, images)]
    print(f"per evaluation (median of {n}):")
    print(f"  scoring: study {ms([e['eval_seconds'] for e in evals]):.1f} ms, "
          f"bare {ms([e['eval_seconds'] for e in b['evals']]):.1f} ms")
    print(f"  MLflow metrics batch: {ms(metrics):.1f} ms")
    print(f"  MLflow image: {ms(images):.1f} ms")
    print(f"  checkpoint and tune.report: {ms(rest):.1f} ms")
    print(f"  MLflow writes (metrics + image): {ms(writes):.1f} ms (goal <= 60 ms)")
    print(f"  whole report callback: {ms(reports):.1f} ms")
    print(f"once per study: Ray start {s['ray_start']:.2f} s")
    same = [e["loss_d"] for e in b["evals"]] == [e["loss_d"] for e in evals]
    print(f"same losses at every evaluation: {'yes' if same else 'no'}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny nets and budget (the study's --smoke settings)")
    p.add_argument("--max-steps", type=int, help="budget in network updates (default 3000, --quick 60)")
    p.add_argument("--tracking-uri", help="MLflow store of the study (default: sqlite in a temporary folder)")
    args = p.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        folder = Path(tmp)
        uri = args.tracking_uri or f"sqlite:///{folder / 'mlflow.db'}"
        argv = ["--scheduler", "fifo", "--tracking-uri", uri, "--storage", str(folder / "ray_results"),
                "--max-failures", "0"]
        argv += ["--smoke"] if args.quick else []
        argv += ["--max-steps", str(args.max_steps)] if args.max_steps else []
        plan = make_plan(STUDY, argv)
        config = plan.configs[0]
        from studies.run.execute import warm_scorer

        warm_scorer(plan.base)  # decoded images and the reference classifier cached, as for any study
        b = bare(config)
        s = study(plan, folder)
        s["store"], s["load"] = uri.split(":")[0], load
        show(config, b, s, fresh_process(uri))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")  # one checkpoint an evaluation is the point
    sys.exit(main())
