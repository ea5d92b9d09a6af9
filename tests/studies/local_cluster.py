"""Real processes for the multi-node tests, all on 127.0.0.1: an MLflow
tracking server, a Ray head and Ray worker nodes.

Each service is started in a session of its own (`start_new_session`), so
everything it spawns (uvicorn workers, raylet, GCS, Ray workers that run the
trials) shares that session id; `Service.kill()` sends SIGKILL to exactly the
processes of that session, found by PID in /proc. Nothing here runs
`ray stop` or kills by name, so other Ray sessions on the machine are safe.
Every port is picked free, and every node gets a private --temp-dir. (Ray
turns `--node-ip-address 127.0.0.1` into the machine's own address for the
node's identity; the MLflow server stays on 127.0.0.1.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent  # the virtualenv that runs the tests: its ray and mlflow


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now that this process has not handed out before.

    The kernel may give the same just-released port to two binds in a row, and Ray refuses to start a node
    whose components share a port ("port number ... that is used by other components"), so every port this
    module picks is remembered and never picked again.
    """
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def session_pids(sid: int) -> list[int]:
    """PIDs of every live process in session `sid` (field 6 of /proc/<pid>/stat)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


class Service:
    """One started command and everything it spawns, in its own session."""

    def __init__(self, name: str, args: list[str], env: dict, log: Path):
        self.name, self.log = name, log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(args, env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL every process of this service's session (a machine that dies), then reap."""
        for _ in range(3):
            pids = session_pids(self.pid)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.3)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} log ---\n" + self.log.read_text(errors="replace")[-chars:]


def started(service: Service, check, what: str) -> Service:
    """The service once `check()` holds; killed (and the error raised) when it never does."""
    try:
        wait_until(check, 120, what, service)
    except BaseException:
        service.kill()
        raise
    return service


def wait_until(check, timeout: float, what: str, service: Service | None = None, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if service is not None and service.proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited while waiting for {what}\n{service.tail()}")
        time.sleep(every)
    raise TimeoutError(f"no {what} after {timeout:.0f}s" + (f"\n{service.tail()}" if service else ""))


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def mlflow_server(folder: Path, port: int, env: dict) -> Service:
    """A tracking server on 127.0.0.1 with a sqlite store; artifacts go through it into folder/artifacts."""
    folder.mkdir(parents=True, exist_ok=True)
    server = Service("mlflow server", [
        str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts")],
        {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, folder / f"server-{port}-{time.time_ns()}.log")
    return started(server, lambda: answers(f"http://127.0.0.1:{port}/health"), "MLflow server")


class TrackingServer:
    """An MLflow server that can be taken away and brought back on the same port and store."""

    def __init__(self, folder: Path, env: dict):
        self.folder, self.env, self.port = folder, env, free_port()
        self.service = mlflow_server(folder, self.port, env)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifacts(self) -> Path:
        return self.folder / "artifacts"

    def restart(self, pause: float) -> None:
        self.service.kill()
        time.sleep(pause)
        self.service = mlflow_server(self.folder, self.port, self.env)

    def kill(self) -> None:
        self.service.kill()


def _node_ports() -> list[str]:
    ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-grpc-port",
             "--dashboard-agent-listen-port", "--runtime-env-agent-port", "--metrics-export-port"]
    return [arg for flag in ports for arg in (flag, str(free_port()))]


def _node_args(temp_dir: Path, cpus: int, gpus: int) -> list[str]:
    return ["--block", "--node-ip-address", "127.0.0.1", "--num-cpus", str(cpus), "--num-gpus", str(gpus),
            "--object-store-memory", str(200 * 1024 ** 2), "--disable-usage-stats",
            "--temp-dir", str(temp_dir), *_node_ports()]


def ray_head(folder: Path, env: dict, cpus: int, gpus: int) -> tuple[Service, str]:
    """A Ray head node (fake GPUs are only resource counts); returns it and its address."""
    port = free_port()
    head = Service("ray head", [
        str(BIN / "ray"), "start", "--head", "--port", str(port), "--include-dashboard", "false",
        "--dashboard-port", str(free_port()), *_node_args(folder / "head", cpus, gpus)],
        env, folder / "head.log")
    started(head, lambda: "Ray runtime started" in head.log.read_text(errors="replace"), "Ray head")
    return head, f"127.0.0.1:{port}"


def ray_worker(folder: Path, name: str, env: dict, address: str, cpus: int, gpus: int) -> Service:
    worker = Service(f"ray {name}", [str(BIN / "ray"), "start", "--address", address,
                                     *_node_args(folder / name, cpus, gpus)], env, folder / f"{name}.log")
    return started(worker, lambda: "Ray runtime started" in worker.log.read_text(errors="replace"), f"Ray {name}")


def children_of(pid: int) -> list[int]:
    """PIDs of the live processes whose parent is `pid` (field 4 of /proc/<pid>/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def kill_sessions(sids: list[int]) -> None:
    for _ in range(3):
        pids = [pid for sid in sids for pid in session_pids(sid)]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.3)


class RayStandIn:
    """A socket listening where a Ray head's GCS would: what `cluster_tracking serve` watches."""

    def __init__(self):
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.sock.close()


class LoginServer:
    """The cluster's MLflow server, started by the very commands cluster-local.yaml gives the head
    (`cluster_tracking init`, the `serve ... mlflow server --app-name basic-auth ...` line, `users`),
    with the head's address and ports put to 127.0.0.1 and free ports, in a home folder of its own."""

    HOST = "$(hostname -I | awk '{print $1}')"

    def __init__(self, folder: Path, env: dict, config: dict, ray_address: str):
        self.home, self.shared = folder / "home", folder / "shared"
        self.home.mkdir(parents=True)
        self.shared.mkdir()
        self.port = free_port()
        host, _, ray_port = ray_address.rpartition(":")
        assert host == "127.0.0.1"
        self.env = {**env, "HOME": str(self.home), "GAN_STUDIES_SHARED": str(self.shared),
                    "PATH": f"{BIN}:{env.get('PATH', '')}", "MLFLOW_TRACKING_URI": self.uri}
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            self.env.pop(name, None)
        head = config["head_setup_commands"] + config["head_start_ray_commands"]
        init = [c for c in head if "cluster_tracking init" in c]
        start = [c for c in head if "mlflow server" in c]
        users = [c for c in head if "cluster_tracking users" in c]
        assert len(init) == len(start) == len(users) == 1, head
        command = start[0]
        for was, now in ((self.HOST, "127.0.0.1"), ("--port 5000", f"--port {self.port}"),
                         (":6379", f":{ray_port}")):
            assert was in command, (was, command)
            command = command.replace(was, now)
        (self.home / "mlflow").mkdir()
        self.run(init[0])
        self.run(command)
        pid_file, self.log = self.home / "mlflow" / "server.pid", self.home / "mlflow" / "server.log"
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 60, "serve's pid file")
        self.serve_pid = int(pid_file.read_text())
        try:
            self.run(users[0], timeout=300)
        except BaseException:
            self.kill()
            raise

    def run(self, command: str, timeout: float = 120) -> str:
        done = subprocess.run(["bash", "-c", command], env=self.env, cwd=self.home, capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        return done.stdout + done.stderr

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def login(self, name: str) -> dict:
        """The MLFLOW_TRACKING_* pairs of the study ('study'), read-only ('reader') or admin ('admin') login."""
        path = {"study": self.home / ".gan-studies-login.env"}.get(name, self.home / "mlflow" / "login" / f"{name}.env")
        from studies.run.cluster_tracking import read_env

        return read_env(path)

    def secrets(self) -> list[str]:
        """Every secret `init` made: passwords and the server's key."""
        from studies.run.cluster_tracking import read_env

        found = [read_env(self.home / "mlflow" / "login" / "server.env")["MLFLOW_FLASK_SERVER_SECRET_KEY"]]
        return found + [self.login(name)["MLFLOW_TRACKING_PASSWORD"] for name in ("study", "reader", "admin")]

    def kill(self) -> None:
        """SIGKILL serve and the server's sessions (serve's child leads a session of its own)."""
        kill_sessions([*children_of(self.serve_pid), self.serve_pid])
