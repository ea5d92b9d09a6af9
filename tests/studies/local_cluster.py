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
