"""What follows from a run's device: bf16 only where the device runs it, channels-last where it was
measured faster, the dataset copy bounded by the run's share of the device, labels compared on one
device, states saved on another device resumed on the CPU, and draws on the CPU as they always were.

There is no GPU here: the decisions are pure functions tested with the values a GPU would give, and
the cross-device paths run against a second device that holds real values on the CPU (torch's lazy
device, see `second_device` in conftest.py)."""

import zipfile

import pytest
import torch

from gan_core import TrainConfig
from gan_core.train import train
from gan_core.devices import DATA_SHARE, data_budget, device_generator, use_bf16, use_channels_last
from gan_core.train import build, evaluate, label_accuracy, read_state

from conftest import TINY_IMAGES, TINY_POINTS

GiB = 2**30


def run_reports(values: dict, state=None):
    reports = []
    train(TrainConfig.from_dict(values), reports.append, state)
    return reports


def untimed(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("sec_per_round", "eval_seconds")}


# --- decisions ----------------------------------------------------------------------

@pytest.mark.parametrize("precision,device,capability,expected", [
    ("auto", "cuda", (8, 0), True),  # A100
    ("auto", "cuda", (9, 0), True),  # H100
    ("auto", "cuda", (8, 6), True),
    ("auto", "cuda", (7, 5), False),  # T4: bf16 only emulated
    ("auto", "cuda", (7, 0), False),  # V100
    ("auto", "cpu", None, False),
    ("fp32", "cuda", (9, 0), False),
    ("bf16", "cuda", (7, 0), True),  # asked for: as asked
    ("bf16", "cpu", None, True),
])
def test_bf16_autocast_only_where_the_device_runs_it_unless_asked(precision, device, capability, expected):
    assert use_bf16(precision, device, capability) is expected


def test_channels_last_follows_the_memory_format_the_device_and_the_measured_cpu_cases():
    images = TrainConfig.from_dict(TINY_IMAGES)
    assert use_channels_last(images, "cuda", "images")
    assert not use_channels_last(images.replace(memory_format="contiguous"), "cuda", "images")
    assert use_channels_last(images.replace(memory_format="channels_last"), "cpu", "images")
    assert not use_channels_last(TrainConfig.from_dict(TINY_POINTS), "cuda", "points")  # no channels
    # on the CPU, where the training loop was measured faster so (benchmarks/channels_last.py, README)
    for faster in [{}, {"arch": "upsample"}, {"arch": "dcgan-deep"}, {"arch": "resnet", "loss": "hinge"},
                   {"arch": "vae"}, {"loss": "wgan", "norm_d": "layer"}, {"pack": 2, "diffaug": "translation"}]:
        assert use_channels_last(images.replace(**faster), "cpu", "images"), faster
    for not_faster in [{"loss": "wgan-gp"}, {"loss": "wgan-gp", "arch": "resnet"}, {"r1_weight": 1.0}]:
        assert not use_channels_last(images.replace(**not_faster), "cpu", "images"), not_faster
        assert use_channels_last(images.replace(**not_faster), "cuda", "images"), not_faster
    with pytest.raises(ValueError, match="^memory_format: 'channels_last' applies to images only"):
        TrainConfig.from_dict({**TINY_POINTS, "memory_format": "channels_last"})


def test_the_dataset_copy_is_bounded_by_the_runs_share_of_the_device():
    assert data_budget(80 * GiB, 1.0) == int(80 * GiB * DATA_SHARE) < 80 * GiB  # room left for the networks
    assert data_budget(80 * GiB, 0.25) == data_budget(80 * GiB, 1.0) // 4
    assert data_budget(16 * GiB, 0.125) < 2.5e9 < data_budget(80 * GiB, 0.125)  # CelebA 64x64: 2.5 GB
    assert data_budget(80 * GiB, 2.0) == data_budget(80 * GiB, 1.0)  # two GPUs: the copy is on one of them
    assert data_budget(80 * GiB, 0.0) == data_budget(0, 1.0) == 0


def test_a_cpu_run_draws_everything_from_its_one_generator():
    run = build(TrainConfig.from_dict(TINY_IMAGES))
    assert run.rand is run.gen and device_generator(torch.device("cpu"), 0, run.gen) is run.gen
    assert "rng_device" not in run_reports(TINY_IMAGES)[-1]["state"]


@pytest.mark.parametrize("arch", ["dcgan", "upsample", "resnet", "vae"])
def test_a_seed_fixes_a_channels_last_run_on_the_cpu(arch):
    values = {**TINY_IMAGES, "arch": arch, "memory_format": "channels_last", "max_steps": 4, "eval_every": 2,
              **({"norm_d": "batch"} if arch != "resnet" else {"norm_d": "spectral"})}
    assert build(TrainConfig.from_dict(values)).channels_last
    first, again = run_reports(values), run_reports(values)
    assert [untimed(r["metrics"]) for r in first] == [untimed(r["metrics"]) for r in again]
    if arch != "upsample":  # whose D draws its dropout masks in memory order: other masks, other losses
        contiguous = run_reports({**values, "memory_format": "contiguous"})
        assert all(abs(a["metrics"][k] - b["metrics"][k]) < 1e-3 for a, b in zip(first, contiguous)
                   for k in a["metrics"] if k.startswith("loss"))  # the same computation, in another order


# --- across devices -------------------------------------------------------------------

def test_label_accuracy_compares_on_the_device_the_labels_were_read_on(second_device):
    read = torch.tensor([1, 2, 3, 4])
    wanted = torch.tensor([1, 2, 0, 4]).to(second_device)
    assert label_accuracy(read, wanted, multi_label=False) == 0.75
    tags = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert label_accuracy(tags, torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]).to(second_device), True) == 0.75


@pytest.mark.parametrize("dataset", ["mnist", "stacked-mnist"])
def test_a_conditioned_run_with_its_data_on_another_device_scores_its_labels(dataset, second_device):
    """On CUDA a file-backed dataset's labels live on the GPU while the reference classifier reads the
    samples' labels on the CPU: the first evaluation of a conditioned MNIST run compared the two and
    crashed. The same run with its data on the second device scores what the all-CPU run scores."""
    config = TrainConfig.from_dict({**TINY_IMAGES, "dataset": dataset, "conditioning": "cgan", "eval_samples": 64})
    on_cpu = evaluate(build(config))[0]["cond_acc"]
    run = build(config)
    run.data = run.data.to(second_device, GiB)
    assert run.data.sample_labeled(2, torch.Generator())[1].device.type == second_device
    assert evaluate(run)[0]["cond_acc"] == on_cpu


def saved_as_if_on(path, location: str) -> None:
    """Rewrite a `torch.save` file as if its tensors had been saved from `location` ("cuda:0").

    `torch.save` writes each storage's bytes as a record of the zip archive and, in data.pkl, a
    persistent id ('storage', type, key, location, numel) whose location is where the storage lived
    ("cpu", "cuda:0"); `torch.load` without `map_location` restores each storage there. The pickle
    (protocol 2) writes the location string once (the others refer back to it): replacing "cpu" by
    `location` there gives the file a save from that device writes, byte for byte in every record."""
    with zipfile.ZipFile(path) as archive:
        records = {info.filename: archive.read(info) for info in archive.infolist()}
    name = next(n for n in records if n.endswith("/data.pkl"))
    cpu = b"X" + len("cpu").to_bytes(4, "little") + b"cpu"
    assert records[name].count(cpu) == 1
    records[name] = records[name].replace(cpu, b"X" + len(location).to_bytes(4, "little") + location.encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for record, data in records.items():
            archive.writestr(record, data)


def test_a_state_saved_from_a_cuda_device_resumes_on_the_cpu_exactly(tmp_path):
    values = {**TINY_IMAGES, "max_steps": 6, "eval_every": 2, "diffaug": "color,translation", "ema": 0.9}
    whole = run_reports(values)
    first = run_reports({**values, "max_steps": 4})
    path = tmp_path / "state.pt"
    state = {**first[-1]["state"], "rng_cuda": torch.zeros(16, dtype=torch.uint8),  # what CUDA generators save:
             "rng_device": torch.zeros(16, dtype=torch.uint8)}  # seed and offset, restored only on CUDA
    torch.save(state, path)
    saved_as_if_on(path, "cuda:0")
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        torch.load(path, weights_only=True)  # what reading a GPU trial's checkpoint on a CPU node did
    restored = read_state(path)
    assert restored["g"]["net.1.weight"].device.type == "cpu" and restored["rng_train"].dtype == torch.uint8
    rest = run_reports(values, restored)
    assert [r["step"] for r in rest] == [6] and untimed(rest[-1]["metrics"]) == untimed(whole[-1]["metrics"])
    for name, tensor in whole[-1]["state"]["g"].items():
        assert torch.equal(tensor, rest[-1]["state"]["g"][name]), name


def test_a_state_moves_to_the_runs_device_on_load(second_device):
    """`load_state` copies a CPU state into the run's own tensors, wherever they live."""
    from gan_core.train import load_state

    config = TrainConfig.from_dict(TINY_IMAGES)
    state = run_reports(TINY_IMAGES)[-1]["state"]
    run = build(config)
    run.g.to(second_device)
    load_state(run, state)
    weights = run.g.state_dict()
    assert all(t.device.type == second_device for t in weights.values())
    assert all(torch.equal(weights[k].cpu(), state["g"][k]) for k in weights)
