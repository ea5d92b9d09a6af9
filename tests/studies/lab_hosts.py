"""Throwaway hosts on one machine, for running `ray up` against them (tests/studies/test_ray_up.py).

Each host is a network, PID, mount and UTS namespace of its own: its own
address on a private LAN, its own /tmp, /dev/shm, /run and /home, its own
process table (so `ray stop` in one host's commands ends only that host's
Ray), a user (USER) that exists only inside the host (its /etc/passwd, group
and shadow are copies bound over the machine's), and an sshd on its address
that lets USER in with the lab's key. The LAN is a bridge in a namespace of
its own; nothing is added to the machine's own network namespace, so no
address of the lab is reachable from it or from outside. The machine that
runs `ray up` is one more network namespace on the LAN (`client`), which
shares the machine's files.

Every host sees:
    /mnt/shared   one folder bound into every host: the NFS export's stand-in
    /mnt/deps     the test interpreter's site-packages but the project's own install, read-only (PYTHONPATH)
    /mnt/wheels   a wheelhouse for what that interpreter lacks, read-only (pip's find-links, no index)
    /mnt/data     tiny fake datasets (GAN_STUDIES_DATA; GAN_STUDIES_OFFLINE=1)
    /usr/local/bin  the console scripts of those packages (ray, mlflow, ...), run by the shell's `python`
and every SSH session gets those variables and PIP_CONFIG_FILE from sshd's
SetEnv, so the cluster file's commands run unchanged and install from here:
the packages are there as a system-wide install would be, and pip, with no
index, installs only what is missing from the wheelhouse.

`Lab.close()` kills every host's process tree (PID 1 of each namespace, by
its PID), deletes the namespaces and removes the lab's folder; it runs also
when starting the lab failed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

USER, UID = "ganlab", 43210
PROJECT_FILES = ("__editable__", "gan_studies-")  # the test interpreter's install of the project itself
INIT = """
import os, subprocess, sys, time
subprocess.Popen(sys.argv[1:])
while True:  # PID 1 of the host: reap every orphan, as init does
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
"""


def sh(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, **kwargs)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


def missing_tools() -> list[str]:
    tools = ["ip", "unshare", "nsenter", "/usr/sbin/sshd", "ssh", "ssh-keygen", "rsync", "/usr/bin/python3"]
    return [t for t in tools if not shutil.which(t)]


class Host:
    def __init__(self, lab: "Lab", name: str, ip: str):
        self.lab, self.name, self.ip = lab, name, ip
        self.netns = f"{lab.prefix}{name}"
        self.folder = lab.root / name
        self.proc: subprocess.Popen | None = None

    @property
    def home(self) -> Path:
        """USER's home folder as the machine sees it (/home/USER inside the host)."""
        return self.folder / "home" / USER

    def init_pid(self) -> int | None:
        """The machine's PID of the host's PID 1 (unshare's child), None once it is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                        return int(entry.name)
                except (OSError, IndexError, ValueError):
                    continue
        return None

    def processes(self) -> list[str]:
        """Command lines of every process in the host but its init and sshd's listener."""
        pid = self.init_pid()
        if pid is None:
            return []
        done = sh("nsenter", "-t", str(pid), "-p", "-m", "ps", "-eo", "pid=,args=", check=False)
        lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        return [line for line in lines if not line.split(None, 1)[1].startswith(
            ("/usr/bin/python3 -c", "/usr/sbin/sshd", "sshd:", "ps -eo"))]

    def kill(self) -> None:
        """The machine dies: its link goes down and every process in it gets SIGKILL at once."""
        sh("ip", "-n", self.netns, "link", "set", "eth0", "down", check=False)
        pid = self.init_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)  # PID 1 of the namespace: the kernel ends all the rest
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Lab:
    """Hosts `names` (plus `client`) on a private /24, started by `start()`, removed by `close()`."""

    def __init__(self, names: list[str], deps: Path, wheels: Path, data: Path, env: dict[str, str]):
        self.token = secrets.token_hex(3)
        self.prefix = f"gl{self.token}"
        self.root = Path(tempfile.mkdtemp(prefix="gan-lab-", dir="/var/tmp"))
        self.root.chmod(0o755)
        self.shared = self.root / "shared"
        self.deps, self.wheels, self.data, self.env = deps, wheels, data, env
        subnet = f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}"
        self.hosts = {name: Host(self, name, f"{subnet}.{10 + i}") for i, name in enumerate(names)}
        self.client = Host(self, "client", f"{subnet}.200")
        self.lan = f"{self.prefix}lan"
        self.made_netns: list[str] = []
        self.key = self.root / "client" / "id_ed25519"

    @property
    def scripts(self) -> Path:
        return self.root / "bin"

    def _write_scripts(self) -> None:
        """The console scripts of the packages on PYTHONPATH (ray, mlflow, ...), as a system-wide install puts
        them in /usr/local/bin; each runs under whichever `python` the shell has, the node's virtualenv's."""
        import importlib.metadata

        self.scripts.mkdir()
        for dist in importlib.metadata.distributions(path=[str(self.deps)]):
            if (dist.metadata["Name"] or "").replace("-", "_").lower() == "gan_studies":
                continue
            for point in dist.entry_points.select(group="console_scripts"):
                module, _, attr = point.value.partition(":")
                head, *rest = attr.strip().split(".")
                script = self.scripts / point.name
                script.write_text(f"#!/usr/bin/env python\nimport sys\nfrom {module.strip()} import {head}\n"
                                  f"sys.exit({'.'.join([head, *rest])}())\n")
                script.chmod(0o755)

    def start(self) -> "Lab":
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        self.shared.mkdir()
        os.chown(self.shared, UID, UID)
        self._write_scripts()
        (self.root / "client").mkdir()
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ray-up-test", "-f", str(self.key))
        self._netns(self.lan)
        sh("ip", "-n", self.lan, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.lan, "link", "set", "br0", "up")
        for host in [*self.hosts.values(), self.client]:
            self._wire(host)
        for host in self.hosts.values():
            self._boot(host)
        for host in self.hosts.values():
            self._wait_for_ssh(host)

    def _netns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.made_netns.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")

    def _wire(self, host: Host) -> None:
        self._netns(host.netns)
        sh("ip", "link", "add", "eth0", "netns", host.netns, "type", "veth", "peer", "name", host.name,
           "netns", self.lan)
        sh("ip", "-n", self.lan, "link", "set", host.name, "master", "br0", "up")
        sh("ip", "-n", host.netns, "addr", "add", f"{host.ip}/24", "dev", "eth0")
        sh("ip", "-n", host.netns, "link", "set", "eth0", "up")
        # a default route on the LAN, as a real machine has one: Ray finds its node address by it;
        # the bridge leads nowhere else, so nothing addressed past the LAN leaves the lab
        sh("ip", "-n", host.netns, "route", "add", "default", "dev", "eth0")

    def _boot(self, host: Host) -> None:
        folder = host.folder
        (folder / "etc").mkdir(parents=True)
        home = host.home
        shutil.copytree("/etc/skel", home)
        (home / ".ssh").mkdir(mode=0o700)
        (home / ".ssh" / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        (home / ".ssh" / "authorized_keys").chmod(0o600)
        for path in [home, *home.rglob("*")]:
            os.chown(path, UID, UID)
        home.chmod(0o755)
        for name, line in (("passwd", f"{USER}:x:{UID}:{UID}::/home/{USER}:/bin/bash"),
                           ("group", f"{USER}:x:{UID}:"), ("shadow", f"{USER}:*:19000:0:99999:7:::")):
            (folder / "etc" / name).write_text(Path(f"/etc/{name}").read_text().rstrip("\n") + f"\n{line}\n")
        (folder / "etc" / "shadow").chmod(0o640)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "host_key"))
        (folder / "pip.conf").write_text("[global]\nno-index = true\nfind-links = /mnt/wheels\n"
                                         "disable-pip-version-check = true\n")
        session_env = " ".join(f"{k}={v}" for k, v in {
            "PYTHONPATH": "/mnt/deps", "PIP_CONFIG_FILE": "/mnt/host/pip.conf", **self.env}.items())
        (folder / "sshd_config").write_text(textwrap.dedent(f"""\
            ListenAddress {host.ip}
            Port 22
            HostKey /mnt/host/host_key
            PidFile none
            UsePAM no
            PermitRootLogin no
            AllowUsers {USER}
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            AuthorizedKeysFile .ssh/authorized_keys
            AllowTcpForwarding yes
            X11Forwarding no
            PrintMotd no
            MaxStartups 100:30:200
            MaxSessions 100
            LogLevel ERROR
            SetEnv {session_env}
            """))
        binds = [(self.shared, "/mnt/shared", "rw"), (folder / "home", "/mnt/home", "rw"), (folder, "/mnt/host", "ro"),
                 (self.scripts, "/usr/local/bin", "ro"),
                 (self.deps, "/mnt/site", "ro"),
                 (self.wheels, "/mnt/wheels", "ro"), (self.data, "/mnt/data", "ro")]
        lines = ["set -e", f"hostname {host.name}",
                 # everything from outside is bound under /mnt first: a source may lie under /tmp
                 "mount -t tmpfs -o mode=755 tmpfs /mnt"]
        for source, target, mode in binds:
            lines += [f"mkdir -p {target}", f"mount --bind {source} {target}"]
            if mode == "ro":
                lines.append(f"mount -o remount,bind,ro {target}")
        # /mnt/deps: the interpreter's packages but the project's own install (the nodes install ~/gan-studies;
        # an editable install's finder module there would shadow theirs, of the same name)
        lines += ["mkdir /mnt/deps", 'for entry in /mnt/site/*; do case "${entry##*/}" in '
                  + "|".join(f"{p}*" for p in PROJECT_FILES) + ') ;; *) ln -s "$entry" /mnt/deps/ ;; esac; done']
        lines += ["mount -t tmpfs -o mode=1777 tmpfs /tmp", "mount -t tmpfs -o mode=1777,size=4g tmpfs /dev/shm",
                  "mount -t tmpfs -o mode=755 tmpfs /run", "mkdir -p /run/sshd", "chmod 755 /run/sshd",
                  "mount --bind /mnt/home /home"]
        lines += [f"mount --bind /mnt/host/etc/{name} /etc/{name}" for name in ("passwd", "group", "shadow")]
        lines.append(f"exec /usr/bin/python3 -c '{INIT}' /usr/sbin/sshd -D -e -f /mnt/host/sshd_config")
        (folder / "boot.sh").write_text("\n".join(lines) + "\n")
        log = open(folder / "host.log", "w")
        host.proc = subprocess.Popen(
            ["ip", "netns", "exec", host.netns, "unshare", "--pid", "--fork", "--kill-child", "--mount", "--uts",
             "--propagation", "private", "--mount-proc", "bash", str(folder / "boot.sh")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env={
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        log.close()

    def ssh(self, host: Host, command: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        """Run command as USER on host over SSH from the client's namespace."""
        return self.in_client(["ssh", *self.ssh_options(), f"{USER}@{host.ip}", command], timeout=timeout,
                              check=check)

    def ssh_options(self) -> list[str]:
        return ["-i", str(self.key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]

    def in_client(self, args: list[str], timeout: float = 60, check: bool = True, env: dict | None = None,
                  cwd: str | None = None) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", self.client.netns, *args, timeout=timeout, check=check, env=env, cwd=cwd)

    def popen_in_client(self, args: list[str], log: Path, env: dict, cwd: str) -> subprocess.Popen:
        with open(log, "w") as out:
            return subprocess.Popen(["ip", "netns", "exec", self.client.netns, *args], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                    start_new_session=True)

    def _wait_for_ssh(self, host: Host, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if host.proc.poll() is not None:
                raise RuntimeError(f"host {host.name} exited: {(host.folder / 'host.log').read_text()}")
            done = self.ssh(host, "id -un && hostname", timeout=30, check=False)
            if done.returncode == 0:
                assert done.stdout.split() == [USER, host.name], done.stdout
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"no SSH on {host.name}: {done.stderr.strip()} "
                                   f"{(host.folder / 'host.log').read_text()}")
            time.sleep(0.5)

    def close(self) -> None:
        """Kill every host, delete every namespace, remove the folder (also after a failed start)."""
        for host in self.hosts.values():
            host.kill()
        for name in reversed(self.made_netns):
            sh("ip", "netns", "del", name, check=False)
        self.made_netns.clear()
        shutil.rmtree(self.root, ignore_errors=True)
