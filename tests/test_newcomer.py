"""The README is a test: its Install and Run commands, exactly as written, work for a newcomer.

A fresh copy of the repository (every file git would commit), a fresh home
folder, and none of MLFLOW_TRACKING_URI, GAN_STUDIES_* or RAY_ADDRESS set.
The README's Install block runs first, as written; its virtualenv sees this
test environment's packages through a `.pth` file, so `pip install -e` finds
torch, Ray and MLflow installed and downloads nothing (CI runs the same
install for real in `.ci/run`). Then every command of the Run block, from the
copy's root (`--smoke` added to a full study), then the result is read back
from `./mlflow.db` as `mlflow ui`, started there as the README says, serves
it. In the same copy, a second run stopped with Ctrl-C and resumed with
`--resume` (no `--storage`), beside a CPU hog, ends with the first run's table.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

sys.path.insert(0, str(Path(__file__).parent / "studies"))
from local_cluster import free_port  # noqa: E402
from studies.run.records import labels, run_name  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
UNSET = ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "PYTHONPATH")


def blocks(title: str) -> list[list[str]]:
    """The commands of each indented code block under `## title` (comments dropped)."""
    section = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README, re.S | re.M).group(1)
    found = re.findall(r"\n\n((?: {4}.*\n)+)", "\n" + section)
    return [[line.strip().split("  #")[0].strip() for line in b.splitlines() if line.strip()] for b in found]


def block(title: str) -> list[str]:
    return blocks(title)[0]


def as_smoke(command: str) -> str:
    """A full study command gets --smoke; listing, --dry-run, --smoke and --resume stay as they are."""
    words = command.split()
    full = re.fullmatch(r"studies\.\w+", words[2]) if words[:2] == ["python", "-m"] and len(words) > 2 else None
    quick = {"--smoke", "--dry-run", "--help", "--resume"} & set(words)
    return f"{command} --smoke" if full and not quick else command


class Newcomer:
    """A fresh copy of the repository and a shell in its root with the README's virtualenv."""

    def __init__(self, base: Path):
        self.repo, self.home = base / "repo", base / "home"
        self.home.mkdir()
        files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.split("\0")
        for name in filter(None, files):
            if (ROOT / name).is_file():
                (self.repo / name).parent.mkdir(parents=True, exist_ok=True)
                (self.repo / name).write_bytes((ROOT / name).read_bytes())
        self.env = {k: v for k, v in os.environ.items() if k not in UNSET and not k.startswith("GAN_STUDIES_")}
        # the venv borrows this environment's packages (prepare_venv), not their commands (`mlflow`): those
        # come from this environment's bin, after the venv's own on PATH
        path = os.pathsep.join(filter(None, [self.env.get("PATH"), str(Path(sys.executable).parent)]))
        self.env.update(HOME=str(self.home), RAY_AUTH_MODE="disabled", PATH=path)

    def prepare_venv(self):
        """A virtualenv that sees this environment's packages, so the Install block downloads nothing."""
        subprocess.run([sys.executable, "-m", "venv", ".venv"], cwd=self.repo, check=True)
        site = next((self.repo / ".venv" / "lib").glob("python3*/site-packages"))
        (site / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    def run(self, command: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        script = f". .venv/bin/activate\n{command}" if (self.repo / ".venv").exists() else command
        proc = subprocess.run(["bash", "-c", script], cwd=self.repo, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check:
            assert proc.returncode == 0, f"{command}: exit {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        return proc

    def start(self, command: str, log: Path) -> subprocess.Popen:
        """`command` in the background, its output in `log` (a pipe nobody reads would fill and stall it)."""
        with open(log, "w") as out:
            return subprocess.Popen(["bash", "-c", f". .venv/bin/activate\nexec {command}"], cwd=self.repo,
                                    env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(f"sqlite:///{self.repo / 'mlflow.db'}")


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    user = Newcomer(tmp_path_factory.mktemp("newcomer"))
    user.prepare_venv()
    user.outputs = {}
    for command in block("Install"):
        user.outputs[command] = user.run(command)
    for command in dict.fromkeys(as_smoke(c) for c in block("Run a study")):
        user.outputs[command] = user.run(command)
    return user


def runs(client: MlflowClient, study: str):
    exp = client.get_experiment_by_name(study)
    found = client.search_runs([exp.experiment_id], max_results=1000, order_by=["start_time ASC"])
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    return exp, parents, [r for r in found if "mlflow.parentRunId" in r.data.tags]


def children_of(children, parent_id: str):
    return [c for c in children if c.data.tags["mlflow.parentRunId"] == parent_id]


def table(client: MlflowClient, parent_id: str) -> list[dict]:
    with open(client.download_artifacts(parent_id, "trials.csv")) as f:
        return list(csv.DictReader(f))


def test_the_readme_commands_run_as_written(newcomer):
    commands = list(newcomer.outputs)
    assert "pip install -e '.[test]'" in commands and "python -m studies.dg_ratio --smoke" in commands
    assert "python -m studies.dg_ratio --dry-run" in commands
    listing = newcomer.outputs["python -m studies"].stdout
    assert "dg_ratio" in listing and "mode_collapse" in listing
    plan = newcomer.outputs["python -m studies.dg_ratio --dry-run"].stdout
    assert f'tracking_uri: "sqlite:///{newcomer.repo}/mlflow.db"' in plan  # resolved where the user typed it
    assert f'storage: "{newcomer.repo}/ray_results"' in plan
    smoke = newcomer.outputs["python -m studies.dg_ratio --smoke"]
    assert "ended in error" not in smoke.stderr and "| error |" not in smoke.stdout
    assert "Experiment state snapshotting" not in smoke.stderr  # rung pauses snapshot often by design
    assert "which is being restricted" not in smoke.stderr  # the rung stops a paused trial through Tune's controller
    assert "from checkpoint" not in smoke.stderr  # a trial let on from the rung restores quietly
    assert "runs?workflowType=machine_learning" in smoke.stdout


def test_the_smoke_study_is_in_the_mlflow_db_of_the_folder_it_ran_in(newcomer):
    assert not (newcomer.repo / "studies" / "mlflow.db").exists()
    client = newcomer.client
    exp, parents, children = runs(client, "dg_ratio")
    parent = parents[0]
    assert parent.info.status == "FINISHED" and len(children_of(children, parent.info.run_id)) == 4
    assert {"plan.json", "trials.md", "trials.csv"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    plan = json.loads(Path(client.download_artifacts(parent.info.run_id, "plan.json")).read_text())
    assert plan["tracking_uri"] == f"sqlite:///{newcomer.repo}/mlflow.db"
    settings = set()
    for child in children_of(children, parent.info.run_id):
        run_id, setting = child.info.run_id, child.data.tags["gan.setting"]
        settings.add(setting)
        assert child.info.run_name == run_name(setting) and child.info.status == "FINISHED"
        assert child.data.params == labels(setting)  # what tells it apart; the full config is a tag
        assert json.loads(child.data.tags["gan.config"])["max_steps"] == 60
        assert child.data.tags["gan.status"] in ("finished", "stopped_early")
        steps = [m.step for m in client.get_metric_history(run_id, "score")]
        assert len(steps) >= 3 and steps == sorted(set(steps))
        assert any(a.path.startswith("images/samples") for a in client.list_artifacts(run_id, "images"))
        assert client.list_artifacts(run_id, "samples")[0].path == "samples/final.png"
        assert child.info.artifact_uri.startswith(str(newcomer.repo / "mlruns"))  # one absolute place
    assert settings == {f"loss={loss} ratio={ratio} seed=0" for loss in ("bce", "wgan-gp") for ratio in ("1:5", "5:1")}


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.read()


def test_the_study_ends_with_its_report(newcomer):
    from studies.report.analysis import analyse, report_keys
    from studies.report.runs import load_study

    smoke = newcomer.outputs["python -m studies.dg_ratio --smoke"].stdout
    html = Path(re.search(r"^Report: (.*report\.html)$", smoke, re.M).group(1))
    assert html.parent.parent == newcomer.repo / "reports" and "Best: " in smoke
    text = html.read_text()
    for name in ("intervals", "curves", "samples", "modes", "losses"):  # stacked digits: 1,000 known modes
        assert (html.parent / "figures" / f"{name}.png").stat().st_size > 1000, name
        assert f"<img id='{name}'" in text
    client = newcomer.client
    _, parents, _ = runs(client, "dg_ratio")
    assert "report/report.html" in {a.path for a in client.list_artifacts(parents[0].info.run_id, "report")}
    analysis = analyse(load_study(client, "dg_ratio", parents[0].info.run_id, report_keys("dg_ratio")))
    assert len(analysis.settings) == 4 and analysis.common_step is not None
    for setting in analysis.settings:
        assert setting.n == 1 and {"score", "diversity", "quality", "modes_covered"} <= set(setting.at_common)
        assert f"<td>{setting.setting}</td>" in text


def test_mlflow_ui_started_in_that_folder_serves_runs_charts_and_images(newcomer):
    command = block("Look at the results")[0]
    assert command == "mlflow ui"
    port = free_port()
    log = newcomer.home / "mlflow-ui.log"
    ui = newcomer.start(f"{command} --port {port}", log)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(360):  # up to 3 minutes: a loaded machine imports MLflow slowly
            assert ui.poll() is None, f"mlflow ui exited {ui.returncode}:\n{log.read_text()[-3000:]}"
            try:
                get(f"{base}/health")
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError(f"mlflow ui never answered on port {port}:\n{log.read_text()[-3000:]}")
        exp = json.loads(get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=dg_ratio"))
        exp_id = exp["experiment"]["experiment_id"]
        query = json.dumps({"experiment_ids": [exp_id], "max_results": 100}).encode()
        request = urllib.request.Request(f"{base}/api/2.0/mlflow/runs/search", data=query,
                                         headers={"Content-Type": "application/json"})
        found = json.loads(urllib.request.urlopen(request, timeout=10).read())["runs"]
        child = next(r for r in found if any(t["key"] == "gan.setting" for t in r["data"].get("tags", [])))
        run_id = child["info"]["run_id"]
        history = json.loads(get(f"{base}/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key=score"))
        assert len(history["metrics"]) >= 3
        image = get(f"{base}/get-artifact?" + urllib.parse.urlencode({"path": "samples/final.png", "run_uuid": run_id}))
        assert image[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<html" in get(f"{base}/").lower()
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)


def test_a_second_run_stopped_with_ctrl_c_and_resumed_without_storage_beside_a_cpu_hog_gives_the_same_table(
        newcomer):
    """The README's `--resume` (no `--storage`) after a Ctrl-C finishes the same runs, each evaluation logged once;
    and the second run, interrupted, resumed and slowed by a process that takes a core, ends with the first run's
    table: its trials, scores and outcomes do not depend on the machine's load or on being stopped."""
    command = next(c for b in blocks("Run a study")[1:] for c in b if c.endswith("--resume"))
    client = newcomer.client
    _, before, _ = runs(client, "dg_ratio")
    first = next(p for p in before if p.info.status == "FINISHED")
    log = newcomer.home / "ctrl-c.log"
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        study = newcomer.start("python -m studies.dg_ratio --smoke", log)
        deadline = time.time() + 300
        while time.time() < deadline:  # wait for the first trial to report an evaluation
            _, parents, children = runs(client, "dg_ratio")
            new = [p for p in parents if p.info.run_id not in {b.info.run_id for b in before}]
            if new and any(client.get_metric_history(c.info.run_id, "score")
                           for c in children_of(children, new[0].info.run_id)):
                break
            time.sleep(1)
        os.killpg(study.pid, signal.SIGINT)
        study.wait(timeout=120)
        out = log.read_text()
        assert study.returncode == 130, out[-3000:]
        assert "python -m studies.dg_ratio --resume dg_ratio-" in out
        newcomer.run(command)
    finally:
        hog.kill()
    _, parents, children = runs(client, "dg_ratio")
    parent = next(p for p in parents if p.info.run_id == new[0].info.run_id)
    assert parent.info.status == "FINISHED" and len(children_of(children, parent.info.run_id)) == 4
    for child in children_of(children, parent.info.run_id):
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "score")]
        assert steps and steps == sorted(set(steps)), steps  # each evaluation once, across the restart
        assert child.data.tags["gan.status"] in ("finished", "stopped_early")
    keep = ("setting", "rounds", "updates", "score", "score_smooth", "diversity", "modes_covered", "outcome")
    assert ([{k: row[k] for k in keep} for row in table(client, first.info.run_id)]
            == [{k: row[k] for k in keep} for row in table(client, parent.info.run_id)])
