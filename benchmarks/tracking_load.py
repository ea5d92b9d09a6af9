"""A tracking server under a cluster's load: N simulated trials, each its own
process, log exactly what a real trial logs to a real `mlflow server` on
127.0.0.1, and every evaluation step is read back.

    python benchmarks/tracking_load.py              # N = 8, 32, 128; sqlite, then PostgreSQL when installed
    python benchmarks/tracking_load.py --quick      # sqlite only, N = 4 (a test runs it)
    python benchmarks/tracking_load.py --trials 8,32 --evaluations 10 --interval 2 --backends sqlite,postgresql

The server is started as cluster.yaml starts it (`mlflow server --host ...
--port ... --backend-store-uri ... --artifacts-destination ...`, its default
workers), with a sqlite file or a PostgreSQL database behind it; PostgreSQL
(`initdb` and `pg_ctl` from Debian's `postgresql`, `psycopg2` for MLflow) is
started by the script as a local server on 127.0.0.1 and stopped after it.

Each simulated trial starts as `studies.run.trainable` does (find or create its
child run, its placement tags), then makes `--evaluations` evaluations, one
every `--interval` seconds from a random phase (a bounded loop: it stops by
itself), each with the calls `tracking.TrialLog.evaluation` makes (`tracking.log_metrics`: the
metrics batch; `tracking.log_image`: the stepped sample grid, which MLflow
stores as the PNG and a compressed preview) and a real payload: the metrics and sample grid of one
evaluation of the default study config, made once before the trials start.
It prints p50 and p99 latency of those calls (with the retries
`studies.run.tracking` makes), the attempts that failed and were retried, the
calls that failed for good, and the evaluation steps missing when the runs
are read back (metrics by the `step` key, images by their step).

All processes share this machine's cores with the server: the latencies are
the server's and the clients' together.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

STEP = 300  # MLflow steps count the budget's unit: an evaluation every 300 updates


class Unavailable(Exception):
    """A backend that cannot run on this machine; the message says why."""


# --- servers -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, and everything it spawned (its process group)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def mlflow_server(folder: Path, store: str) -> tuple[subprocess.Popen, str]:
    """`mlflow server` as cluster.yaml starts it, on 127.0.0.1; returns it and its URI once /health answers."""
    port = free_port()
    log = open(folder / "server.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1",
                             "--port", str(port), "--backend-store-uri", store,
                             "--artifacts-destination", str(folder / "mlartifacts")],
                            cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    while not answers(f"http://127.0.0.1:{port}/health"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"mlflow server did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    return proc, f"http://127.0.0.1:{port}"


def postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(versions[-1]) if versions else None


def start_postgres(folder: Path) -> tuple[list[str], str]:
    """A PostgreSQL server on 127.0.0.1 in folder/pg; returns the command that stops it and the store URI.
    As root, the server runs as the `postgres` user (PostgreSQL refuses root)."""
    initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise Unavailable("initdb / pg_ctl not found (Debian: apt-get install postgresql)")
    check = subprocess.run([sys.executable, "-c", "import psycopg2"], capture_output=True)
    if check.returncode != 0:
        raise Unavailable("the MLflow server cannot import psycopg2 (pip install psycopg2-binary)")
    data, port = folder / "pg", free_port()
    as_user = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        folder.chmod(0o755)
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
    run = lambda *args: subprocess.run([*as_user, *args], capture_output=True, text=True)
    init = run(initdb, "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8")
    if init.returncode != 0:
        raise Unavailable(f"initdb failed: {init.stderr.strip().splitlines()[-1:]}")
    started = run(pg_ctl, "-D", str(data), "-l", str(data / "server.log"), "-w", "-t", "120",
                  "-o", f"-h 127.0.0.1 -p {port} -k {data}", "start")
    if started.returncode != 0:
        raise Unavailable(f"pg_ctl start failed: {started.stderr.strip() or started.stdout.strip()}")
    return [*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], \
        f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/postgres"


# --- one simulated trial ----------------------------------------------------------------------

class Retries(logging.Handler):
    """Counts the attempts `studies.run.tracking.retry` failed and retried (it logs a warning for each)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


def timed(latencies: dict, kind: str, fn, *args) -> bool:
    """Call fn, note its latency under kind; False when it raised (a call that failed for good)."""
    start = time.perf_counter()
    try:
        fn(*args)
        return True
    except Exception:  # noqa: BLE001  counted, not fatal: the load goes on
        return False
    finally:
        latencies.setdefault(kind, []).append(time.perf_counter() - start)


def simulated_trial(i: int, uri: str, ids: dict, payload: dict, evaluations: int, interval: float,
                    out: Path) -> None:
    """One trial's tracking calls: start as a trial does, then a bounded loop of evaluations."""
    from mlflow.tracking import MlflowClient

    from studies.run import tracking

    sys.stdout = open(os.devnull, "w")  # MLflow prints a "View run" line per finished run
    retries = Retries()
    logging.getLogger(tracking.__name__).addHandler(retries)
    latencies, failed = {}, 0
    client = MlflowClient(uri)
    trial_id = f"load_{i:05d}"
    start = time.perf_counter()
    try:
        run_id, _ = tracking.find_or_create_child(client, ids["experiment"], ids["parent"], "tracking_load",
                                                        trial_id, f"trial={i}", payload["params"])
        latencies["start"] = [time.perf_counter() - start]
        tags = {"gan.node": f"node{i % 16:02d}", "gan.nodes": f"node{i % 16:02d}", "gan.device": "cuda",
                "gan.gpu_ids": str(i % 8), "gan.torch_threads": "2"}
        failed += not timed(latencies, "start", tracking.set_tags, client, run_id, tags)
    except Exception as err:  # noqa: BLE001  the trial could not even start: every step is lost
        write(out, {"trial": trial_id, "run_id": None, "latencies": latencies, "failed": 1 + evaluations,
                    "retried": retries.count, "error": str(err)[:300]})
        return
    phase = random.Random(i).uniform(0, interval)
    t0 = time.monotonic() + phase
    image = payload["image"]
    for e in range(1, evaluations + 1):
        time.sleep(max(0.0, t0 + (e - 1) * interval - time.monotonic()))
        metrics = {**payload["metrics"], "step": float(e * STEP), "work": float(e * STEP)}
        failed += not timed(latencies, "metrics", tracking.log_metrics, client, run_id, e * STEP, metrics)
        failed += not timed(latencies, "image", tracking.log_image, client, run_id, e * STEP, image)
    failed += not timed(latencies, "start", tracking.close_child, client, run_id, "finished")
    write(out, {"trial": trial_id, "run_id": run_id, "latencies": latencies, "failed": failed,
                "retried": retries.count})


def write(out: Path, result: dict) -> None:
    out.write_text(json.dumps(result))


# --- one load level ---------------------------------------------------------------------------

def real_payload(quick: bool) -> dict:
    """The params, metrics and sample grid of one evaluation of the default study config (or its --smoke one)."""
    import torch

    from gan_core import TrainConfig
    from gan_core.train import train
    from studies.declare.study import CPU_IMAGES, SMOKE

    torch.set_num_threads(1)
    base = {**CPU_IMAGES, **(SMOKE if quick else {})}
    config = TrainConfig.from_dict({**base, "max_steps": 2, "eval_every": 2})
    payloads = []
    train(config, payloads.append)
    metrics = {**payloads[-1]["metrics"], "score_smooth": payloads[-1]["metrics"]["score"]}
    return {"params": TrainConfig.from_dict(base).to_dict(), "metrics": metrics, "image": payloads[-1]["image"]}


def load(uri: str, n: int, payload: dict, evaluations: int, interval: float, folder: Path) -> dict:
    """N simulated trials at once against the server at uri; their latencies, failures and lost steps."""
    from mlflow.tracking import MlflowClient

    from studies.run import tracking

    client = MlflowClient(uri)
    exp = tracking.experiment_id(client, f"tracking_load_{n}_{time.time_ns()}")
    parent = tracking.start_parent(client, exp, "tracking_load", f"load-{n}", {"trials": n})
    ids = {"experiment": exp, "parent": parent}
    results = Path(tempfile.mkdtemp(prefix=f"results-{n}-", dir=folder))
    fork = multiprocessing.get_context("fork")
    procs = [fork.Process(target=simulated_trial, args=(i, uri, ids, payload, evaluations, interval,
                                                          results / f"{i}.json")) for i in range(n)]
    start = time.monotonic()
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=max(60.0, 20 * evaluations * interval))
        if p.is_alive():
            p.kill()
    seconds = time.monotonic() - start
    trials = [json.loads(f.read_text()) for f in results.glob("*.json")]
    lost_metrics = lost_images = evaluations * (n - len(trials))  # a trial that never wrote its result lost all
    for t in trials:
        if t["run_id"] is None:
            lost_metrics += evaluations
            lost_images += evaluations
            continue
        metric_steps, image_steps = tracking.logged_steps(client, t["run_id"])
        wanted = {e * STEP for e in range(1, evaluations + 1)}
        lost_metrics += len(wanted - metric_steps)
        lost_images += len(wanted - image_steps)
    calls = {kind: [x for t in trials for x in t["latencies"].get(kind, [])] for kind in ("start", "metrics", "image")}
    return {"n": n, "seconds": seconds, "calls": calls, "failed": sum(t["failed"] for t in trials),
            "retried": sum(t["retried"] for t in trials), "lost_metrics": lost_metrics, "lost_images": lost_images,
            "errors": sorted({t["error"] for t in trials if t.get("error")})}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return 1000 * statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else 1000 * values[0]


def show(backend: str, r: dict) -> None:
    writes = r["calls"]["metrics"] + r["calls"]["image"]
    print(f"{backend} N={r['n']}: evaluation writes {len(writes)}, p50 {percentile(writes, 50):.1f} ms, "
          f"p99 {percentile(writes, 99):.1f} ms, retried {r['retried']}, failed {r['failed']}, "
          f"lost steps {r['lost_metrics']} metrics {r['lost_images']} images, {r['seconds']:.0f} s", flush=True)
    for kind in ("metrics", "image", "start"):
        v = r["calls"][kind]
        print(f"  {kind:<8} calls {len(v):5d}  p50 {percentile(v, 50):8.1f} ms  p99 {percentile(v, 99):8.1f} ms  "
              f"max {1000 * max(v) if v else float('nan'):8.1f} ms")
    for error in r["errors"]:
        print(f"  a trial could not start: {error}")


def run_backend(backend: str, levels: list[int], payload: dict, evaluations: int, interval: float) -> None:
    with tempfile.TemporaryDirectory(prefix=f"tracking-load-{backend}-") as tmp:
        folder = Path(tmp)
        stop_db = None
        try:
            if backend == "postgresql":
                stop_db, store = start_postgres(folder)
            else:
                store = f"sqlite:///{folder / 'mlflow.db'}"
        except Unavailable as why:
            print(f"{backend}: not available ({why})", flush=True)
            return
        try:
            server, uri = mlflow_server(folder, store)
            try:
                load(uri, 4, payload, 1, 0.1, folder)  # warm-up: the server's workers import what they need
                for n in levels:
                    show(backend, load(uri, n, payload, evaluations, interval, folder))
            finally:
                stop(server)
        finally:
            if stop_db:
                subprocess.run(stop_db, capture_output=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="sqlite only, N = 4, 3 evaluations 0.5 s apart")
    p.add_argument("--trials", help="comma-separated concurrent trial counts (default 8,32,128)")
    p.add_argument("--evaluations", type=int, help="evaluations per trial (default 10)")
    p.add_argument("--interval", type=float, help="seconds between a trial's evaluations (default 2)")
    p.add_argument("--backends", help="comma-separated: sqlite, postgresql (default both)")
    args = p.parse_args()
    levels = [int(n) for n in (args.trials or ("4" if args.quick else "8,32,128")).split(",")]
    backends = (args.backends or ("sqlite" if args.quick else "sqlite,postgresql")).split(",")
    evaluations = args.evaluations or (3 if args.quick else 10)
    interval = args.interval or (0.5 if args.quick else 2.0)
    payload = real_payload(args.quick)
    print(f"each evaluation: {len(payload['metrics'])} metrics in one batch, a {payload['image'].shape[1]}x"
          f"{payload['image'].shape[0]} sample grid logged twice; {evaluations} evaluations per trial, "
          f"{interval:g} s apart; {os.cpu_count()} CPU cores shared by server and trials, load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    for backend in backends:
        run_backend(backend, levels, payload, evaluations, interval)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GAN_STUDIES_OFFLINE", "1")
    sys.exit(main())
