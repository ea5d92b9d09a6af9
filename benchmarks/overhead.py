"""What a study costs beyond its training: the same trial (config, seed, rounds)
trained by the bare loop and as a one-trial study through Ray Tune, MLflow and
checkpoints, side by side in one run; and a trial's launch as it is against
today's path (see below), side by side in the same run.

    python benchmarks/overhead.py            # a trial of about two minutes (dg_ratio's 1:1 BCE DCGAN)
    python benchmarks/overhead.py --quick    # tiny nets, a few seconds of training (a test runs it)
    python benchmarks/overhead.py --quick --repeats 5
    python benchmarks/overhead.py --max-steps 6000 --tracking-uri http://127.0.0.1:5000

One shared store (`--tracking-uri`) runs its studies with `--no-reuse` (the
same trial again would be copied from the store, not trained), so neither
path asks it for a run to reuse there.

The bare side is `gan_core.train` with a `report` that only notes the time.
The study side is `studies.run.execute.execute` on a one-setting, one-seed plan
(FIFO, sqlite MLflow store and Tune storage in a temporary folder), with
Ray started first (once for the whole run, timed on its own). To see where a
trial's time goes, the trial runs the real `gan_trainable` inside a wrapper
that notes the time around a few of the real functions it calls (`open_run`,
which makes the child run in a thread beside the build; `find_or_create_child`,
`replay_reused`, `build`, the first round, the report callback, `log_metrics`,
`log_image`); nothing is replaced.

Today's path, beside it: the study runs `--repeats` times in each of two
modes, alternating (new, today, today, new, ...), each in its own store and
Tune folder, each trial in a fresh Tune worker process (one Ray for all):
- new: the trainable as it is;
- today: the same trainable, plus what a trial did before its first round
  before the cut of issue 27: it imported torchvision (which imports torch's
  compiler stack) with gan_core's sample grid, imported scikit-learn (with
  SciPy) in the build to read the digits, and always waited for its MLflow
  side to open to ask the store for a run to reuse. The wrapper imports
  `torchvision.utils` with the trainable and `sklearn.datasets` at the start
  of the build, and gives the trial no list of reusable keys (so it asks
  the store, as every trial did). Same trial, same losses.
Timed apart in fresh processes, alternating: the imports each path makes
before the first round (the trainable; torch._dynamo, which torch's first
optimizer imports in the build; today also torchvision.utils and
sklearn.datasets), then importing MLflow, opening the study's store and one call.

It prints:

- rounds/s of both, and their ratio, over the whole trial (from the trial's
  launch, or the call to `train`, to its last evaluation) and steady (first to
  last evaluation), medians over the new path's studies; goal: >= 0.95 on a
  two-minute trial;
- launch to the first round (goal: <= 3 s; medians), new and today, and
  their parts: the worker process, the trainable's imports, the wait for the
  store before training, the build (dataset, nets, scorer), MLflow's child
  run and tags (made in a thread beside the first rounds), the worker's CPU
  time up to its first round (what it would take on an idle core: the
  machine this runs on is often shared), and the fresh-process imports;
- per evaluation (medians over the new path's evaluations): scoring (the
  loop's own `eval_seconds`), the MLflow metrics batch, the sample image, the
  checkpoint with `tune.report`; goal: <= 60 ms of MLflow writes (metrics +
  image).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gan_core.train import train
from studies.declare.study import CPU_IMAGES, SMOKE, Study
from studies.declare.cli import make_plan

MARKS_ENV = "GAN_STUDIES_BENCH_MARKS"  # the folder where the trial's wrapper writes its timestamps
# dg_ratio's 1:1 BCE setting; 3,000 updates (1,500 rounds) are about two minutes on one CPU thread
STUDY = Study(name="overhead", summary="one trial, for benchmarks/overhead.py", base={**CPU_IMAGES, "max_steps": 3000},
              space=lambda: {"loss": {"grid_search": ["bce"]}}, seeds=1, smoke=SMOKE, smoke_seeds=1)
NEW, TODAY = "new", "today"
# what a trial imported before its first round, beyond the trainable, before issue 27's cut: torchvision with
# gan_core (its sample grid), scikit-learn in the build (the digits); both paths import torch._dynamo (the first
# torch optimizer does, in the build; torchvision did it at import)
TODAY_IMPORTS = ("torchvision.utils",)
TODAY_BUILD_IMPORTS = ("sklearn.datasets",)
FRESH_IMPORTS = {NEW: ("studies.run.trainable", "torch._dynamo"),
                 TODAY: ("studies.run.trainable", *TODAY_IMPORTS, *TODAY_BUILD_IMPORTS, "torch._dynamo")}
# in a fresh process: the imports a path makes before the first round, then opening the study's MLflow store
FRESH = """import importlib, sys, time
t = time.perf_counter()
for name in sys.argv[2:]:
    importlib.import_module(name)
t2 = time.perf_counter()
from mlflow.tracking import MlflowClient
MlflowClient(sys.argv[1]).search_experiments(max_results=1)
print(t2 - t, time.perf_counter() - t2)"""


# --- the trial's side: the real trainable, timed from the outside --------------------------

def process_start() -> float:
    """This process's start as a Unix time (/proc: start ticks after boot, boot from the uptime; +-10 ms)."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
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


def timed_trainable(trial_config: dict, study: dict, mode: str = NEW) -> None:
    """`studies.run.trainable.gan_trainable` as it is, with timestamps around the calls that matter;
    in `mode` today, with what the trial did before the cut added (see the module's docstring)."""
    import importlib

    marks = {"enter": time.time(), "process_start": process_start(), "mode": mode}
    import studies.run.trainable as trainable
    from gan_core import steps

    if mode == TODAY:
        for name in TODAY_IMPORTS:
            importlib.import_module(name)
        study = {k: v for k, v in study.items() if k != "reusable"}  # no list: the trial asks the store
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
    timed(trainable, "replay_reused", marks, "reuse")
    train_module = sys.modules["gan_core.train"]
    real_build = train_module.build

    def build(config, *args, **kwargs):
        if mode == TODAY:
            for name in TODAY_BUILD_IMPORTS:
                importlib.import_module(name)
        return real_build(config, *args, **kwargs)

    train_module.build = build
    timed(train_module, "build", marks, "build")
    one_round = steps.one_round

    def first_round(run):
        marks["first_round"], marks["cpu_first_round"] = time.time(), time.process_time()
        steps.one_round = one_round
        one_round(run)

    steps.one_round = first_round
    real_train = trainable.train

    def timed_train(config, report, state=None, **kwargs):
        marks["train"] = time.time()

        def timed_report(payload):
            start = time.time()
            report(payload)
            marks.setdefault("report", []).append((start, time.time()))
            marks.setdefault("evals", []).append(evaluation(payload))

        return real_train(config, timed_report, state, **kwargs)

    trainable.train = timed_train
    try:
        trainable.gan_trainable(trial_config, study)
    finally:
        Path(os.environ[MARKS_ENV], "marks.json").write_text(json.dumps(marks))


def trainable_new(trial_config: dict, study: dict) -> None:
    timed_trainable(trial_config, study, NEW)


def trainable_today(trial_config: dict, study: dict) -> None:
    timed_trainable(trial_config, study, TODAY)


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


def study(argv: list[str], folder: Path, mode: str, marks: Path) -> dict:
    """The one-trial study through `execute` in `folder` (its own store and Tune folder), Ray already
    started; the trial's timestamps and the launch."""
    from studies.run import execute as ex

    folder.mkdir()
    uri = f"sqlite:///{folder / 'mlflow.db'}" if "--tracking-uri" not in argv else None
    argv = argv + (["--tracking-uri", uri] if uri else []) + ["--storage", str(folder / "ray_results")]
    plan = make_plan(STUDY, argv)
    launch = {}
    real_run_tuner = ex.run_tuner

    def run_tuner(*args, **kwargs):
        launch["at"] = time.time()
        return real_run_tuner(*args, **kwargs)

    ex.run_tuner, ex.gan_trainable = run_tuner, trainable_today if mode == TODAY else trainable_new
    real_keys = ex.reuse.reusable_keys

    def reusable_keys(*args, **kwargs):
        start = time.time()
        try:
            return real_keys(*args, **kwargs)
        finally:
            launch["keys"] = time.time() - start

    log, cwd = folder / "study.log", os.getcwd()
    (marks / "marks.json").unlink(missing_ok=True)
    ex.reuse.reusable_keys = reusable_keys
    try:
        os.chdir(folder)  # the study's report folder lands here
        with open(log, "w") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = ex.execute(plan)
    finally:
        os.chdir(cwd)
        ex.run_tuner, ex.reuse.reusable_keys = real_run_tuner, real_keys
    if code != 0 or not (marks / "marks.json").exists():
        sys.exit(f"overhead: the study failed (exit code {code}):\n{log.read_text()[-3000:]}")
    result = json.loads((marks / "marks.json").read_text())
    return {**result, "launch": launch["at"], "keys": launch.get("keys", 0.0), "uri": plan.tracking_uri,
            "reports": [start for start, _ in result["report"]]}


def fresh_process(uri: str, modules: tuple[str, ...]) -> tuple[float, float]:
    """Seconds a fresh process takes to import `modules`, then to import MLflow, open the study's store
    (an existing one) and make one call."""
    out = subprocess.run([sys.executable, "-c", FRESH, uri, *modules], capture_output=True, text=True, check=True)
    imports, store = out.stdout.strip().splitlines()[-1].split()
    return float(imports), float(store)


def rates(run: dict, start: float, end: float) -> tuple[float, float]:
    """Rounds/s over the whole trial (start to the end of the last evaluation) and steady (first to last evaluation)."""
    steps, reports = [e["step"] for e in run["evals"]], run["reports"]
    steady = (steps[-1] - steps[0]) / (reports[-1] - reports[0]) if len(steps) > 1 else float("nan")
    return steps[-1] / (end - start), steady


def ms(values) -> float:
    return 1000 * statistics.median(values) if values else float("nan")


def med(values) -> float:
    return statistics.median(values) if values else float("nan")


def parts(s: dict) -> dict:
    """Where one trial's launch went, in seconds."""
    build_start, build_end = s["build"][0]
    open_start, open_end = s["open"][0]
    run_end = s["run"][0][1]
    waited = sum(end - start for start, end in s.get("reuse", []))
    return {"launch": s["first_round"] - s["launch"], "keys": s["keys"], "worker": s["process_start"] - s["launch"],
            "entered": s["enter"] - s["launch"], "imports": s["imported"] - s["enter"],
            "to_train": s["train"] - s["enter"], "reuse": waited, "build": build_end - build_start,
            "after_build": s["first_round"] - build_end, "cpu": s["cpu_first_round"],
            "mlflow_run": run_end - open_start,
            "mlflow_open": open_end - open_start, "ready": open_end - s["first_round"]}


def show(config, b: dict, runs: dict[str, list[dict]], fresh: dict[str, list[tuple[float, float]]], ray_start: float,
         load: float, store: str) -> None:
    new, today = runs[NEW], runs[TODAY]
    evals = new[0]["evals"]
    rounds, n, reps = evals[-1]["step"], len(evals), len(new)
    print(f"trial: {config.arch} {config.loss} {config.d_steps}:{config.g_steps}, batch {config.batch_size}, "
          f"{rounds} rounds ({config.max_steps} {config.budget}), {n} evaluations of {config.eval_samples} samples, "
          f"1 torch thread, MLflow store {store}; {os.cpu_count()} CPU cores, load average {load:.1f} at the start; "
          f"{reps} studies on each path, alternating (medians)")
    bare_end = b["reports"][-1]
    bare_whole, bare_steady = rates(b, b["start"], bare_end)
    study_rates = [rates(s, s["launch"], s["report"][-1][1]) for s in new]
    study_whole, study_steady = med([w for w, _ in study_rates]), med([st for _, st in study_rates])
    today_whole = med([rates(s, s["launch"], s["report"][-1][1])[0] for s in today])
    print(f"rounds/s whole trial: bare {bare_whole:.3f}, study {study_whole:.3f}, "
          f"ratio {study_whole / bare_whole:.3f} (goal >= 0.95 on a two-minute trial); today's path: study "
          f"{today_whole:.3f}, ratio {today_whole / bare_whole:.3f}")
    print(f"rounds/s steady: bare {bare_steady:.3f}, study {study_steady:.3f}, ratio {study_steady / bare_steady:.3f}")
    first = b["evals"][0]
    bare_first = b["reports"][0] - first["eval_seconds"] - first["step"] * first["sec_per_round"] - b["start"]
    p = {mode: {k: med([parts(s)[k] for s in runs[mode]]) for k in parts(new[0])} for mode in (NEW, TODAY)}
    launches = {mode: ", ".join(f"{parts(s)['launch']:.2f}" for s in runs[mode]) for mode in (NEW, TODAY)}
    print(f"launch to first round: study {p[NEW]['launch']:.2f} s (goal <= 3 s), bare {bare_first:.2f} s; "
          f"today's path {p[TODAY]['launch']:.2f} s, side by side")
    print(f"  each study: new {launches[NEW]} s; today {launches[TODAY]} s")
    print("  where it went (s, medians)                                            new   today")
    rows = [("Tune launch to trainable entered (actor, worker process, unpickling)", "entered"),
            ("  the driver's lookup of reusable keys (in both)", "keys"),
            ("  the worker process started, from launch", "worker"),
            ("trainable entered to train()", "to_train"),
            ("  importing the trainable (+ torchvision today)", "imports"),
            ("  waiting for the store (MLflow opened, a run to reuse asked for)", "reuse"),
            ("build (dataset, nets, scorer; + scikit-learn today)", "build"),
            ("build to first round", "after_build")]
    for label, key in rows:
        print(f"  {label:<70}{p[NEW][key]:>6.2f}{p[TODAY][key]:>8.2f}")
    print(f"  the worker's CPU time from its start to the first round (about its wall time on an idle core): "
          f"new {p[NEW]['cpu']:.2f} s, today {p[TODAY]['cpu']:.2f} s")
    print(f"  beside them, in a thread: MLflow imported, client and child run {p[NEW]['mlflow_run']:.2f} s, "
          f"with the tags {p[NEW]['mlflow_open']:.2f} s; ready {p[NEW]['ready']:+.2f} s from the first round "
          f"(the first evaluation waits for it); today {p[TODAY]['mlflow_open']:.2f} s")
    imports = {mode: med([i for i, _ in fresh[mode]]) for mode in (NEW, TODAY)}
    print(f"  in a fresh process, timed apart: the imports before the first round {imports[NEW]:.2f} s "
          f"({', '.join(FRESH_IMPORTS[NEW])}), today {imports[TODAY]:.2f} s ({', '.join(FRESH_IMPORTS[TODAY])}); "
          f"then importing MLflow, opening the store and one call {med([o for _, o in fresh[NEW]]):.2f} s")
    metrics = [b - a for s in new for a, b in s["metrics"]]
    images = [b - a for s in new for a, b in s["image"]]
    reports = [b - a for s in new for a, b in s["report"]]
    rest = [r - m - i for r, m, i in zip(reports, metrics, images)]
    writes = [m + i for m, i in zip(metrics, images)]
    print(f"per evaluation (median of {len(reports)}, new path):")
    print(f"  scoring: study {ms([e['eval_seconds'] for s in new for e in s['evals']]):.1f} ms, "
          f"bare {ms([e['eval_seconds'] for e in b['evals']]):.1f} ms")
    print(f"  MLflow metrics batch: {ms(metrics):.1f} ms")
    print(f"  MLflow image: {ms(images):.1f} ms")
    print(f"  checkpoint and tune.report: {ms(rest):.1f} ms")
    print(f"  MLflow writes (metrics + image): {ms(writes):.1f} ms (goal <= 60 ms)")
    print(f"  whole report callback: {ms(reports):.1f} ms")
    print(f"once per run: Ray start {ray_start:.2f} s")
    bare_losses = [e["loss_d"] for e in b["evals"]]
    same = all([e["loss_d"] for e in s["evals"]] == bare_losses for s in new + today)
    print(f"same losses at every evaluation: {'yes' if same else 'no'} (every study, both paths)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny nets and budget (the study's --smoke settings)")
    p.add_argument("--max-steps", type=int, help="budget in network updates (default 3000, --quick 60)")
    p.add_argument("--tracking-uri", help="MLflow store of the studies (default: sqlite, one per study, in a "
                                          "temporary folder); a shared store has to be run with --no-reuse")
    p.add_argument("--repeats", type=int, default=3, help="studies on each path, alternating (default 3)")
    args = p.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()[0]
    import ray
    from studies.run import execute as ex

    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        folder = Path(tmp)
        marks = folder / "marks"
        marks.mkdir()
        os.environ[MARKS_ENV] = str(marks)  # before Ray starts: its workers inherit it
        argv = ["--scheduler", "fifo", "--max-failures", "0"]
        argv += ["--smoke"] if args.quick else []
        argv += ["--max-steps", str(args.max_steps)] if args.max_steps else []
        argv += ["--tracking-uri", args.tracking_uri, "--no-reuse"] if args.tracking_uri else []
        plan = make_plan(STUDY, [*argv, "--storage", str(folder / "ray_results")])
        config = plan.configs[0]
        ex.warm_scorer(plan.base)  # decoded images and the reference classifier cached, as for any study
        b = bare(config)
        tick = time.time()
        ex.start_ray(plan)
        ray_start = time.time() - tick
        runs: dict[str, list[dict]] = {NEW: [], TODAY: []}
        fresh: dict[str, list[tuple[float, float]]] = {NEW: [], TODAY: []}
        try:
            for i in range(args.repeats):
                for mode in (NEW, TODAY) if i % 2 == 0 else (TODAY, NEW):
                    runs[mode].append(study(argv, folder / f"{mode}-{i}", mode, marks))
        finally:
            ray.shutdown()
        uri = runs[NEW][-1]["uri"]
        for i in range(args.repeats):
            for mode in (NEW, TODAY) if i % 2 == 0 else (TODAY, NEW):
                fresh[mode].append(fresh_process(uri, FRESH_IMPORTS[mode]))
        show(config, b, runs, fresh, ray_start, load, uri.split(":")[0])
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")  # one checkpoint an evaluation is the point
    sys.exit(main())
