"""A trial trains where Ray put it: on the GPU Ray gave it, on the CPU when it asked for none
(whatever GPUs its machine has), and on the CPU, saying so, when Ray gave it a GPU torch cannot
see. The decision is a pure function (tested with what a GPU machine would show); the tags are
checked through real Ray (a local instance with two fake GPUs) and a real sqlite MLflow store."""

import pytest
import ray
from mlflow.tracking import MlflowClient
from ray import tune

from studies.declare.cli import main as cli_main
from studies.declare.study import Study
from studies.run.trainable import trial_device

STUDY = Study(
    name="devices_check",
    summary="one short MLP trial on ring8",
    base=dict(dataset="ring8", arch="mlp", nz=4, ngf=16, ndf=16, batch_size=32, norm_g="none", norm_d="none",
              max_steps=4, eval_every=2, eval_samples=200),
    space=lambda: {"loss": tune.grid_search(["bce"])},
    seeds=1,
)
NO_CUDA_NOTE = "Ray gave this trial GPU 1 but torch sees no CUDA device: training on the CPU"


@pytest.mark.parametrize("asked,gpu_ids,cuda,expected", [
    ("auto", [], True, ("cpu", "")),  # no GPU asked, none used, though the machine has some
    ("auto", [], False, ("cpu", "")),
    ("auto", [1], True, ("cuda", "")),  # Ray's GPU is cuda:0 of the trial's process
    ("auto", [1], False, ("cpu", NO_CUDA_NOTE)),  # fake GPUs, or a node without the driver
    ("cpu", [1], True, ("cpu", "")),  # asked for: as asked
    ("cuda", [0], True, ("cuda", "")),
    ("cuda", [], False, ("cuda", "")),  # torch sees no CUDA: gan_core's own error says so
])
def test_the_device_follows_the_gpus_ray_gave(asked, gpu_ids, cuda, expected):
    assert trial_device(asked, gpu_ids, cuda) == expected


def test_cuda_asked_for_without_a_gpu_from_ray_is_refused_where_there_is_one():
    with pytest.raises(ValueError, match="^device: 'cuda' asked for but Ray gave this trial no GPU"):
        trial_device("cuda", [], True)


@pytest.fixture(scope="module")
def ray_with_two_fake_gpus():
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def placement_tags(tmp_path, monkeypatch, gpus: str) -> dict:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert cli_main(STUDY, ["--gpus-per-trial", gpus, "--tracking-uri", uri, "--storage", str(tmp_path / "r")]) == 0
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(STUDY.name).experiment_id])
    (child,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert child.data.tags["gan.status"] == "finished"
    return child.data.tags


@pytest.mark.slow
def test_a_trial_that_asks_for_no_gpu_trains_on_the_cpu(tmp_path, monkeypatch, ray_with_two_fake_gpus):
    tags = placement_tags(tmp_path, monkeypatch, "0")
    assert tags["gan.device"] == "cpu" and tags["gan.gpu_ids"] == "none" and "gan.device_note" not in tags


@pytest.mark.slow
def test_a_trial_records_the_gpu_ray_gave_it_and_why_it_trained_on_the_cpu(tmp_path, monkeypatch,
                                                                          ray_with_two_fake_gpus):
    tags = placement_tags(tmp_path, monkeypatch, "0.25")
    assert tags["gan.gpu_ids"] in ("0", "1") and tags["gan.device"] == "cpu"  # fake GPUs: torch sees no CUDA
    assert tags["gan.device_note"] == NO_CUDA_NOTE.replace("GPU 1", f"GPU {tags['gan.gpu_ids']}")
