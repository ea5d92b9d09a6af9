"""The MLflow server on a cluster's head: MLflow's login (its basic-auth app),
with credentials made on the head at `ray up`, and a life tied to Ray's there.

    python -m studies.run.cluster_tracking init     # head_setup_commands: the credentials, made once
    python -m studies.run.cluster_tracking serve --pid-file F --ray ADDRESS -- mlflow server --app-name basic-auth ...
    python -m studies.run.cluster_tracking users URI  # once the server answers: the study and read-only users

`init` writes, only where they are missing, files no one but their owner
reads (0600, in folders 0700):

    ~/mlflow/login/server.env   the server's secret key and admin login, sourced by the command that starts it
    ~/mlflow/login/auth.ini     MLflow's auth config: its user database, READ as every user's default
    ~/mlflow/login/admin.env    the admin login, for `users` and for a person on the head
    ~/mlflow/login/reader.env   a read-only login, for a person looking at the UI
    ~/.gan-studies-login.env    the study user's login (MLFLOW_TRACKING_USERNAME / _PASSWORD); the
                                cluster files copy it to every worker (cluster_synced_files) and every
                                node's ~/.gan-studies.env sources it, so drivers and trials log in with it

and prints only what it made, never a secret. The passwords never pass
through a command line (other users of a machine can read those), a log or
the repository. `users` creates the study and read-only users through MLflow's
own admin API as the admin, or sets their passwords to the files' again.
Under MLflow's default permission (READ) every user reads every experiment;
the study user manages the experiments it creates, so the read-only user
cannot change a study's runs.

`serve` runs the server command as its child and ends it (the whole process
group) when Ray's head stops answering at ADDRESS, so `ray stop` and
`ray down` take the server down with Ray, or when `serve` itself gets SIGTERM
(the pid file holds serve's own pid; `python -m studies.run.cluster_node stop
--pid-file F` ends it and waits).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from studies.run.cluster_node import head_answers

LOGIN_FOLDER = "~/mlflow/login"
NODE_LOGIN = "~/.gan-studies-login.env"  # every node's; cluster_synced_files in the cluster files
STUDY_USER, READER_USER, ADMIN_USER = "study", "reader", "admin"
AUTH_INI = """[mlflow]
default_permission = READ
database_uri = sqlite:///{db}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# A checked login is remembered for a minute, per server worker: without it every request of every
# trial pays a password hash on the head (a password change reaches all workers within the minute).
auth_cache_ttl_seconds = 60
"""


def write_secret(path: Path, text: str) -> bool:
    """Write text to path, readable by its owner only, unless the file is there already; True if written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


def exports(values: dict) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())


def read_env(path: Path) -> dict:
    """NAME=value pairs of a file `init` wrote (`export NAME=value` lines)."""
    values = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            for word in words[1:]:
                name, _, value = word.partition("=")
                values[name] = value
    return values


def login(user: str) -> dict:
    return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": secrets.token_urlsafe(24)}


def init(folder: Path, node_login: Path) -> list[str]:
    """Make the credentials that are missing; the paths of the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    node_login.parent.mkdir(parents=True, exist_ok=True)
    admin_file = folder / "admin.env"
    written = [str(admin_file)] if write_secret(admin_file, exports(login(ADMIN_USER))) else []
    admin = read_env(admin_file)
    files = {
        folder / "auth.ini": AUTH_INI.format(db=folder / "users.db", admin=ADMIN_USER),
        folder / "server.env": exports({
            "MLFLOW_AUTH_CONFIG_PATH": str(folder / "auth.ini"),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
            # read once, when the server first starts against an empty user database
            "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN_USER,
            "MLFLOW_AUTH_ADMIN_PASSWORD": admin["MLFLOW_TRACKING_PASSWORD"]}),
        folder / "reader.env": exports(login(READER_USER)),
        node_login: exports(login(STUDY_USER)),
    }
    return written + [str(path) for path, text in files.items() if write_secret(path, text)]


def wait_for(uri: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no MLflow server answers at {uri} after {timeout:.0f} s")
        time.sleep(0.5)


def users(uri: str, folder: Path, node_login: Path, timeout: float = 120.0) -> list[str]:
    """Create the study and read-only users as the admin (or set their passwords to the files' again)."""
    from mlflow.exceptions import RestException
    from mlflow.server import get_app_client

    wait_for(uri, timeout)
    admin = read_env(folder / "admin.env")
    os.environ.update(admin)  # MLflow's clients read the login from the environment
    client = get_app_client("basic-auth", tracking_uri=uri)
    done = []
    for path in (node_login, folder / "reader.env"):
        user = read_env(path)
        name, password = user["MLFLOW_TRACKING_USERNAME"], user["MLFLOW_TRACKING_PASSWORD"]
        try:
            client.get_user(name)
        except RestException:
            client.create_user(name, password)
            done.append(f"created {name}")
        else:
            client.update_user_password(name, password)
            done.append(f"kept {name}")
    return done


def serve(command: list[str], pid_file: Path, ray_address: str, every: float = 2.0, misses: int = 5) -> int:
    """Run the server command; end it when Ray stops answering at ray_address `misses` times in a row,
    or on SIGTERM. Exit with the server's code, 0 when it was ended here."""
    pid_file.write_text(f"{os.getpid()}\n")
    stopping: list[str] = []
    woken = threading.Event()

    def on_term(*_):
        stopping.append("SIGTERM")
        woken.set()
    signal.signal(signal.SIGTERM, on_term)
    server = subprocess.Popen(command, start_new_session=True)
    missed = 0
    while server.poll() is None and not stopping:
        missed = 0 if head_answers(ray_address) else missed + 1
        if missed >= misses:
            stopping.append(f"Ray stopped answering at {ray_address}")
            break
        woken.wait(every)
    if server.poll() is not None:
        return server.returncode
    print(f"cluster_tracking serve: {stopping[0]}; stopping the MLflow server", flush=True)
    end(server)
    return 0


def end(server: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the server's process group (uvicorn and its workers), SIGKILL what is left after grace."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; its workers may not be
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studies.run.cluster_tracking", description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default=LOGIN_FOLDER, help=f"the head's login files (default {LOGIN_FOLDER})")
    parser.add_argument("--node-login", default=NODE_LOGIN, help=f"the study user's login file (default {NODE_LOGIN})")
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("init", help="make the credentials that are missing")
    who = sub.add_parser("users", help="create the study and read-only users on the server at URI")
    who.add_argument("uri")
    run = sub.add_parser("serve", help="run `-- COMMAND...` until Ray stops answering at --ray")
    run.add_argument("--pid-file", required=True)
    run.add_argument("--ray", required=True, metavar="HOST:PORT", help="the Ray head's GCS address")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    folder, node_login = Path(args.folder).expanduser(), Path(args.node_login).expanduser()
    prog = parser.prog
    if args.verb == "init":
        for path in init(folder, node_login):
            print(f"{prog}: wrote {path}")
        return 0
    if args.verb == "users":
        try:
            for line in users(args.uri, folder, node_login):
                print(f"{prog}: {line}")
        except (OSError, ValueError) as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return 2
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("serve needs a command after --")
    return serve(command, Path(args.pid_file).expanduser(), args.ray)


if __name__ == "__main__":
    sys.exit(main())
