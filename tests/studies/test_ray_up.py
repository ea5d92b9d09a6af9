"""`ray up cluster-local.yaml` for real, on three throwaway hosts on this machine.

The hosts (tests/studies/lab_hosts.py) are namespaces with an address, an
sshd, a user and a key each; a folder bound into all of them stands in for the
NFS export. cluster-local.yaml is used as shipped, with only its marked
placeholders filled (head and worker addresses, SSH user and key); the shared
folder's path is the file's own. Its setup, head and worker commands run
unchanged: pip installs from a wheelhouse with no index, and the packages the
test interpreter already has reach the hosts read-only on PYTHONPATH (so torch
is not copied three times); see lab_hosts.py.

In order, as a user would: `ray up`; the workers join through the head's
autoscaler; `ray exec ... 'python -m studies.dg_ratio --smoke --address auto'`
with trials on the workers and every child run in the head's MLflow server,
read back through the SSH tunnel the docs give, with MLflow's login; a longer
study during which a worker host dies (every process, and its link), and its
trial resumes elsewhere from its checkpoint on the shared folder into the same
run; `ray down`, after which no Ray or MLflow process is left on any host.
"""

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest
import yaml

import lab_hosts
import local_cluster as lc

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "cluster-local.yaml"

NODES = """
import json, ray
ray.init(address="auto", logging_level="ERROR")
print("NODES " + json.dumps({n["NodeID"]: [n["NodeManagerAddress"], n["Alive"]] for n in ray.nodes()}))
"""

# Run in the client's namespace: the head's MLflow server through `ssh -L`, as the docs open it.
RUNS = """
import json, sys, urllib.error, urllib.request
from base64 import b64encode
from mlflow.tracking import MlflowClient

uri = sys.argv[1]
def status(path, auth):
    request = urllib.request.Request(uri + path, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code
import os
pair = os.environ["MLFLOW_TRACKING_USERNAME"] + ":" + os.environ["MLFLOW_TRACKING_PASSWORD"]
auth = "Basic " + b64encode(pair.encode()).decode()
ui = {"anonymous": status("/", None), "reader": status("/", auth)}
client = MlflowClient(uri)
exp = client.get_experiment_by_name("dg_ratio")
runs = client.search_runs([exp.experiment_id], max_results=500) if exp else []
out = []
for run in runs:
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "step")]
    out.append({"id": run.info.run_id, "status": run.info.status, "tags": run.data.tags,
                "params": run.data.params, "steps": steps, "start": run.info.start_time})
print("RUNS " + json.dumps({"ui": ui, "runs": out}))
"""


def fill(text: str, lab) -> str:
    """cluster-local.yaml with its `# <-` placeholders filled: the lab's addresses, user and key."""
    hosts = lab.hosts
    values = {
        "head_ip:": hosts["head"].ip,
        "worker_ips:": "[" + ", ".join(h.ip for name, h in hosts.items() if name != "head") + "]",
        "ssh_user:": lab_hosts.USER,
        "ssh_private_key:": str(lab.key),
    }
    lines, filled = [], []
    for line in text.splitlines():
        key = line.split("#")[0].strip().split(" ")[0]
        if "# <-" in line and key in values:
            indent = line[:len(line) - len(line.lstrip())]
            line = f"{indent}{key} {values[key]}"
            filled.append(key)
        lines.append(line)
    assert sorted(filled) == sorted(values), filled  # exactly the marked placeholders, each once
    return "\n".join(lines) + "\n"


def host_requirements() -> list[str]:
    """What the cluster file's pip line asks for besides the project itself."""
    config = yaml.safe_load(SOURCE.read_text())
    line = next(c for c in config["setup_commands"] if "pip install" in c and "-e ~/gan-studies" in c)
    words = shlex.split(line.split("&&")[-1])
    return [w for i, w in enumerate(words[2:], 2) if not w.startswith("-") and words[i - 1] != "-e"]


def wheelhouse(folder: Path) -> Path:
    """Wheels of what the pip line needs and the test interpreter lacks (ray[default]'s extras, boto3),
    and of setuptools for the project's isolated build: pip on the hosts finds everything else
    installed on PYTHONPATH and fetches nothing from an index."""
    import importlib.metadata

    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "report.json"
    sh = lab_hosts.sh
    sh(sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report), *host_requirements(),
       timeout=600)
    wanted = [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in json.loads(report.read_text())["install"]]
    wanted.append(f"setuptools=={importlib.metadata.version('setuptools')}")
    sh(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder), *wanted, timeout=900)
    report.unlink()
    return folder


@pytest.fixture
def ssh_control_folders():
    """Ray's SSH client keeps its control sockets under /tmp/ray_ssh_* whatever TMPDIR says: the folders
    this test makes there are removed after it."""
    before = set(glob.glob("/tmp/ray_ssh_*")) | set(glob.glob("/tmp/ray_ssh_*/*"))
    yield
    for path in sorted(set(glob.glob("/tmp/ray_ssh_*/*")) | set(glob.glob("/tmp/ray_ssh_*")), reverse=True):
        if path not in before:
            shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def lab():
    if os.geteuid() != 0:
        pytest.skip("network, PID and mount namespaces need root")
    missing = lab_hosts.missing_tools()
    assert not missing, f"install {missing} (.ci/run does: openssh-server, rsync, iproute2, python3-venv)"
    version = lab_hosts.sh("/usr/bin/python3", "-c", "import sys; print(*sys.version_info[:2])").stdout.split()
    assert version == [str(v) for v in sys.version_info[:2]], (
        f"the hosts' python3 is {'.'.join(version)}: the test interpreter's packages (on their PYTHONPATH) need "
        f"{sys.version_info.major}.{sys.version_info.minor}")
    from fake_datasets import write_all

    stage = Path(tempfile.mkdtemp(prefix="gan-lab-stage-", dir="/var/tmp"))
    try:
        write_all(stage / "data")
        deps = Path(sysconfig.get_paths()["purelib"])  # the test interpreter's packages
        lab = lab_hosts.Lab(["head", "w1", "w2"], deps, wheelhouse(stage / "wheels"), stage / "data",
                            {"GAN_STUDIES_DATA": "/mnt/data", "GAN_STUDIES_OFFLINE": "1"}).start()
        try:
            yield lab
        finally:
            lab.close()
    finally:
        shutil.rmtree(stage, ignore_errors=True)


class Client:
    """The machine that runs `ray up`: the lab's client namespace, with a home and Ray temp folder of its own."""

    def __init__(self, lab):
        self.lab = lab
        self.folder = lab.root / "client"
        (self.folder / "home").mkdir()
        (self.folder / "raytmp").mkdir()
        self.config = self.folder / "cluster-local.yaml"
        self.config.write_text(fill(SOURCE.read_text(), lab))
        self.env = {"PATH": f"{lc.BIN}:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                    "HOME": str(self.folder / "home"), "RAY_TMPDIR": str(self.folder / "raytmp"),
                    "TMPDIR": str(self.folder / "raytmp"),  # `ray up` caches the config it resolved there
                    "RAY_AUTH_MODE": "token", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        self.logs: list[Path] = []

    def ray(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        log = self.folder / f"ray-{args[0]}-{time.time_ns()}.log"
        if args[0] != "get-auth-token":  # it prints the token: never shown
            self.logs.append(log)
        with open(log, "w") as out:
            done = subprocess.run(["ip", "netns", "exec", self.lab.client.netns, str(lc.BIN / "ray"), *args],
                                  stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                                  cwd=ROOT, timeout=timeout)
        text = log.read_text(errors="replace")
        assert not check or done.returncode == 0, f"ray {args[0]} exit {done.returncode}\n{text[-6000:]}"
        return text

    def exec(self, command: str, timeout: float = 600) -> str:
        return self.ray("exec", str(self.config), command, timeout=timeout)

    def background(self, command: str) -> lc.Service:
        service = lc.Service.__new__(lc.Service)
        service.name, service.log = "ray exec", self.folder / f"ray-exec-bg-{time.time_ns()}.log"
        self.logs.append(service.log)
        service.proc = self.lab.popen_in_client([str(lc.BIN / "ray"), "exec", str(self.config), command],
                                                service.log, self.env, str(ROOT))
        return service

    def nodes(self) -> dict:
        text = self.exec(f"python {shlex.quote('/mnt/shared/nodes.py')}", timeout=300)
        return json.loads(re.findall(r"^NODES (.*)$", text, re.M)[-1])


class Tunnel:
    """`ssh -N -L` to the head's MLflow server, as the docs open the UI, from the client's namespace."""

    def __init__(self, lab, client: Client):
        self.port = 15000
        head = lab.hosts["head"]
        self.proc = lab.popen_in_client(
            ["ssh", *lab.ssh_options(), "-N", "-o", "ExitOnForwardFailure=yes",
             "-L", f"127.0.0.1:{self.port}:{head.ip}:5000", f"{lab_hosts.USER}@{head.ip}"],
            client.folder / "tunnel.log", client.env, str(client.folder))
        login = client.folder / "reader.env"
        client.ray("rsync-down", str(client.config), "~/mlflow/login/reader.env", str(login))
        from studies.run.cluster_tracking import read_env

        self.login = read_env(login)
        self.lab, self.client = lab, client

    def runs(self) -> dict:
        done = self.lab.in_client([sys.executable, "-c", RUNS, f"http://127.0.0.1:{self.port}"], timeout=300,
                                  env={**self.client.env, **self.login, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2"},
                                  check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(re.findall(r"^RUNS (.*)$", done.stdout, re.M)[-1])

    def close(self):
        self.proc.kill()
        self.proc.wait()


def diagnostics(lab, client: Client) -> str:
    parts = [f"--- {log.name} ---\n{log.read_text(errors='replace')[-4000:]}" for log in client.logs[-4:]]
    for host in lab.hosts.values():
        pid = host.init_pid()
        if pid is None:
            continue
        root = Path(f"/proc/{pid}/root")
        for path in ["home/ganlab/mlflow/server.log", "tmp/ray/session_latest/logs/monitor.log",
                     "tmp/ray/session_latest/logs/monitor.out"]:
            file = root / path
            if file.exists():
                parts.append(f"--- {host.name}:{path} ---\n{file.read_text(errors='replace')[-3000:]}")
    return "\n".join(parts)


def children_of(runs: list[dict], parent: dict) -> list[dict]:
    return [r for r in runs if r["tags"].get("mlflow.parentRunId") == parent["id"]]


def test_ray_up_runs_a_study_on_the_workers_survives_a_dead_worker_and_ray_down_leaves_nothing(
        lab, ssh_control_folders):
    client = Client(lab)
    (lab.shared / "nodes.py").write_text(NODES)
    head, workers = lab.hosts["head"], [lab.hosts["w1"], lab.hosts["w2"]]
    try:
        run_the_cluster(lab, client, head, workers)
    except BaseException:
        print(diagnostics(lab, client))
        raise


def run_the_cluster(lab, client, head, workers):
    started = time.monotonic()
    client.ray("get-auth-token", "--generate")
    client.ray("up", "-y", str(client.config), timeout=1500)
    print(f"ray up: {time.monotonic() - started:.0f} s")

    # the head's autoscaler sets up and starts both workers over SSH
    ips = {h.ip: h.name for h in lab.hosts.values()}
    nodes = lc.wait_until(lambda: (lambda n: n if sorted(ips[a] for a, alive in n.values() if alive)
                                   == ["head", "w1", "w2"] else None)(client.nodes()), 1500, "three live nodes",
                          every=10)
    print(f"three nodes: {time.monotonic() - started:.0f} s")
    node_host = {node_id: ips[address] for node_id, (address, _) in nodes.items()}
    for host in lab.hosts.values():  # the study login reached every node, readable by its owner only
        login = host.home / ".gan-studies-login.env"
        assert login.stat().st_mode & 0o777 == 0o600, host.name
    study_password = (head.home / ".gan-studies-login.env").read_text()
    secrets = re.findall(r"MLFLOW_TRACKING_PASSWORD=(\S+)", study_password)
    assert secrets and all(s in (w.home / ".gan-studies-login.env").read_text() for w in workers for s in secrets)

    # the smoke study, exactly as a user starts it on the head
    smoke = client.exec("python -m studies.dg_ratio --smoke --address auto", timeout=1500)
    print(f"smoke: {time.monotonic() - started:.0f} s")
    tunnel = Tunnel(lab, client)
    try:
        seen = tunnel.runs()
        assert seen["ui"] == {"anonymous": 401, "reader": 200}  # the UI through the tunnel, with the login
        parents = [r for r in seen["runs"] if "mlflow.parentRunId" not in r["tags"]]
        assert len(parents) == 1 and parents[0]["status"] == "FINISHED", parents
        children = children_of(seen["runs"], parents[0])
        assert len(children) == 4 and all(c["status"] == "FINISHED" and c["steps"] for c in children), children
        # every node each trial ran on (one paused at a rung may resume on the other worker)
        by_prefix = {node_id[:12]: host for node_id, host in node_host.items()}
        placed = {by_prefix[n] for c in children for n in c["tags"]["gan.nodes"].split(",")}
        assert placed and placed <= {"w1", "w2"}, placed  # trials ran on the workers, none on the head
        if (os.cpu_count() or 1) < 4:  # four trials at once fit on one worker only with four CPUs
            assert placed == {"w1", "w2"}, placed
        print(f"smoke trials ran on {sorted(placed)}")
        for text in [smoke, *[json.dumps([c["params"], c["tags"]]) for c in [*parents, *children]]]:
            assert not any(s in text for s in secrets)
        results = lab.shared / "gan-studies" / "ray_results"
        assert list(results.glob("dg_ratio-*/*/checkpoint_*")), "no checkpoint on the shared folder"
        assert list((lab.shared / "gan-studies" / "mlartifacts").rglob("final.png"))

        # a longer study; a worker host dies while it trains a trial
        study = client.background("python -m studies.dg_ratio --smoke --address auto --dataset ring8 "
                                  "--scheduler fifo --max-steps 1200 --set eval_every=120")
        try:
            def on_a_worker():
                runs = tunnel.runs()["runs"]
                newest = max((r for r in runs if "mlflow.parentRunId" not in r["tags"]), key=lambda r: r["start"])
                if newest["id"] == parents[0]["id"]:
                    return None
                for child in children_of(runs, newest):
                    where = node_host.get(child["tags"].get("gan.node"))
                    if where in ("w1", "w2") and child["steps"]:
                        return newest, child, where
                return None
            parent, victim, where = lc.wait_until(on_a_worker, 900, "a trial training on a worker", study, every=3)
            assert max(victim["steps"]) < 1200, "the trial finished before the kill: make it longer"
            lab.hosts[where].kill()
            print(f"killed {where} at step {max(victim['steps'])}: {time.monotonic() - started:.0f} s")
            assert study.proc.wait(timeout=1500) == 0, study.tail(6000)
        finally:
            study.kill()
        print(f"node-loss study: {time.monotonic() - started:.0f} s")
        runs = tunnel.runs()["runs"]
        children = children_of(runs, next(r for r in runs if r["id"] == parent["id"]))
        assert len(children) == 4 and all(c["status"] == "FINISHED" for c in children)
        moved = next(c for c in children if c["tags"]["trial_id"] == victim["tags"]["trial_id"])
        assert moved["id"] == victim["id"]  # the same run, resumed
        first, *rest = moved["tags"]["gan.nodes"].split(",")
        assert rest and node_host[moved["tags"]["gan.node"]] != where, moved["tags"]
        # every evaluation once: the steps re-run after the checkpoint were not logged again
        assert max(moved["steps"]) == 1200 and len(moved["steps"]) == len(set(moved["steps"])) == 10
    finally:
        tunnel.close()

    # ray down: nothing of Ray or MLflow left on any host
    client.ray("down", "-y", str(client.config), timeout=600)
    survivors = [h for h in lab.hosts.values() if h.init_pid() is not None]
    deadline = time.monotonic() + 240
    while True:
        left = {h.name: h.processes() for h in survivors}
        if not any(left.values()) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert not any(left.values()), left
    print(f"ray down, nothing left: {time.monotonic() - started:.0f} s")

    # no secret of the head's in what `ray up`, `ray exec` and `ray down` printed, nor in the server's log
    login = head.home / "mlflow" / "login"
    every = [*secrets, *re.findall(r"(?:PASSWORD|SECRET_KEY)=(\S+)", "".join(
        (login / name).read_text() for name in ("admin.env", "reader.env", "server.env")))]
    assert len(every) >= 5
    for text in [*(log.read_text(errors="replace") for log in client.logs),
                 (head.home / "mlflow" / "server.log").read_text(errors="replace")]:
        assert not any(secret in text for secret in every)
