"""cluster.yaml and cluster-local.yaml pass Ray's own schema (the one Ray
ships, after Ray's public fillout_defaults; no cloud credentials needed),
keep the promises their comments make, share every command that is not about
the provider, and a broken copy fails with one line that says where."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from studies.run.cluster_config import check

ROOT = Path(__file__).resolve().parents[2]
FILES = ["cluster.yaml", "cluster-local.yaml"]


def commands(config: dict, *keys: str) -> str:
    return "\n".join(cmd for key in keys for cmd in config.get(key, []))


@pytest.mark.parametrize("name", FILES)
def test_the_cluster_files_pass_rays_schema(name):
    prepared = check(str(ROOT / name))
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_the_aws_cluster_has_a_cpu_head_and_single_and_multi_gpu_workers():
    types = check(str(ROOT / "cluster.yaml"))["available_node_types"]
    head = types["head"]
    assert head["resources"] == {"CPU": 0} and head["max_workers"] == 0  # no trials on the head
    single, multi = types["gpu-1x"], types["gpu-4x"]
    assert 1 <= single["min_workers"] < single["max_workers"] and multi["min_workers"] == 0 < multi["max_workers"]
    for worker in (single, multi):
        assert worker["node_config"]["InstanceType"].startswith("g")  # an NVIDIA GPU instance family
        assert worker["node_config"]["IamInstanceProfile"]  # trials write checkpoints to S3


@pytest.mark.parametrize("name", FILES)
def test_storage_is_set_in_one_place_and_every_service_stays_inside(name):
    config = yaml.safe_load((ROOT / name).read_text())
    every = commands(config, "setup_commands")
    assert every.count("GAN_STUDIES_SHARED=") == 1  # the one place
    assert "GAN_STUDIES_STORAGE=$GAN_STUDIES_SHARED/ray_results" in every
    assert "RAY_AUTH_MODE=token" in every and "-e ~/gan-studies" in every  # every node: auth on, project installed
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    head = commands(config, "head_start_ray_commands")
    assert "--dashboard-host=127.0.0.1" in head
    assert "--artifacts-destination $GAN_STUDIES_SHARED/mlartifacts" in head
    assert "--host $(hostname -I" in head  # the head's private address, reachable inside the cluster only
    everything = yaml.safe_dump(config)
    assert "0.0.0.0" not in everything.replace("0.0.0.0/0", "")
    for key in ("head_setup_commands", "worker_setup_commands"):
        assert "MLFLOW_TRACKING_URI=http://" in commands(config, key)  # the same study command on any node


def test_aws_ssh_comes_from_a_prepared_security_group():
    provider = yaml.safe_load((ROOT / "cluster.yaml").read_text())["provider"]
    # with a group of this name in place Ray adds no rules; a group Ray creates opens SSH to 0.0.0.0/0
    assert provider["security_group"]["GroupName"] and "IpPermissions" not in provider["security_group"]


def broken(tmp_path, name: str, edit) -> str:
    config = yaml.safe_load((ROOT / name).read_text())
    edit(config)
    path = tmp_path / f"broken-{name}"
    path.write_text(yaml.safe_dump(config))
    return str(path)


BREAKAGES = [
    ("cluster.yaml", lambda c: c.update(max_worker=3),
     "(top level): Additional properties are not allowed ('max_worker'"),
    ("cluster.yaml", lambda c: c["available_node_types"]["gpu-1x"]["resources"].update(GPU=0.5),
     "available_node_types.gpu-1x.resources.GPU: 0.5 is not of type 'integer'"),
    ("cluster.yaml", lambda c: c["available_node_types"]["gpu-1x"].update(min_workers=20),
     "global `max_workers` is smaller than the sum of `min_workers`"),
    ("cluster.yaml", lambda c: c.update(head_node_type="cpu-head"), "`head_node_type` must be one of"),
    ("cluster-local.yaml", lambda c: c["provider"].pop("head_ip"), "Please supply a `head_ip`"),
]


@pytest.mark.parametrize("name, edit, message", BREAKAGES)
def test_a_broken_copy_fails_with_one_line_saying_where(tmp_path, name, edit, message):
    path = broken(tmp_path, name, edit)
    with pytest.raises(ValueError) as err:
        check(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value) and "\n" not in str(err.value)


def test_the_command_line_checks_files_and_exits_2_on_the_first_broken_one(tmp_path):
    path = broken(tmp_path, "cluster.yaml", lambda c: c.update(max_worker=3))
    good = subprocess.run([sys.executable, "-m", "studies.run.cluster_config", *FILES], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0 and good.stdout.count(": valid for Ray's") == 2, good.stderr
    bad = subprocess.run([sys.executable, "-m", "studies.run.cluster_config", "cluster.yaml", path], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert bad.stderr.startswith(f"python -m studies.run.cluster_config: error: {path}: (top level)")


def test_the_public_ray_pieces_the_check_relies_on_are_still_there():
    """studies.run.cluster_config uses Ray's public `ray.autoscaler.sdk.fillout_defaults` (a DeveloperAPI) and the
    schema file Ray ships beside its autoscaler, no private module. A Ray release that drops either fails
    here, by name, rather than as an odd error from `python -m studies.run.cluster_config`."""
    import importlib.resources

    import ray
    import ray.autoscaler.sdk

    assert callable(getattr(ray.autoscaler.sdk, "fillout_defaults", None)), \
        f"Ray {ray.__version__} has no ray.autoscaler.sdk.fillout_defaults: update studies.run.cluster_config"
    schema = importlib.resources.files("ray.autoscaler") / "ray-schema.json"
    assert schema.is_file(), \
        f"Ray {ray.__version__} ships no ray/autoscaler/ray-schema.json: update studies.run.cluster_config"
    source = (ROOT / "studies" / "run" / "cluster_config.py").read_text()
    assert "_private" not in source


# What may differ between the two files: the provider and what it decides (node types, worker counts,
# the SSH user and key), and the one storage line. Every other command is one text for both.
PROVIDER_KEYS = {"cluster_name", "provider", "auth", "available_node_types", "head_node_type", "max_workers",
                 "upscaling_speed", "idle_timeout_minutes"}


def test_both_files_run_the_same_commands_but_for_the_storage_line():
    aws, local = (yaml.safe_load((ROOT / name).read_text()) for name in FILES)
    assert set(aws) - PROVIDER_KEYS == set(local) - PROVIDER_KEYS
    for key in sorted(set(aws) - PROVIDER_KEYS):
        if key == "setup_commands":
            storage = [c for c in aws[key] if "GAN_STUDIES_SHARED=" in c]
            assert len(storage) == 1 and aws[key].index(storage[0]) == 0  # the one place, first
            assert aws[key][1:] == local[key][1:]
            assert local[key][0].startswith("echo 'export GAN_STUDIES_SHARED=/")  # an NFS path on premises
            assert aws[key][0].startswith("echo 'export GAN_STUDIES_SHARED=s3://")
        else:
            assert aws[key] == local[key], key


def test_the_setup_warms_the_scorer_with_a_config_it_accepts(tmp_path, fake_data_root):
    """The setup command that readies the reference classifier once per node, run as it stands, on a
    node whose cache already holds it (training it is gan_core's, tested there): the command's config is
    one the code accepts, and it reads the cached classifier rather than training another."""
    from gan_core.classifiers import classifier_path, reference_classifier

    reference_classifier()  # the session's cached one: trained once per test session
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = cache / classifier_path().name
    shutil.copy(classifier_path(), cached)
    before = (cached.stat().st_mtime_ns, cached.read_bytes())
    config = yaml.safe_load((ROOT / "cluster-local.yaml").read_text())
    command = next(c for c in config["setup_commands"] if "warm_scorer" in c)
    env = {**os.environ, "GAN_STUDIES_DATA": str(fake_data_root), "GAN_STUDIES_CACHE": str(cache),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # the virtualenv's python, as on a node
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (cached.stat().st_mtime_ns, cached.read_bytes()) == before, "the cached classifier was trained again"
