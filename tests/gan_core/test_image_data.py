"""Tests of the file-backed datasets: torchvision's formats read offline, the decoded-array
cache and its device copy, the MNIST mode scores, and the command line's dataset checks
(image folders: test_image_folders.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from fake_datasets import CELEBA_IMAGES, CIFAR_PER_BATCH, celeba_colour, cifar_batch, matching_rows, mnist_like
from gan_core import classifiers, image_data, image_store
from gan_core.utils import resize_images
from gan_core.config import TrainConfig
from gan_core.datasets import load_dataset
from gan_core.train import train

TINY = dict(arch="dcgan", nz=8, ngf=4, ndf=4, batch_size=8, eval_samples=32, max_steps=1, eval_every=1)


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------ torchvision formats

def test_mnist_is_read_from_idx_files(fake_data_root):
    train_x, train_y, _, _ = classifiers.digits_split()
    array = image_data.mnist_array(fake_data_root, 32)
    expected = resize_images(torch.from_numpy(mnist_like(train_x))[:, None].float() / 255, 32)
    assert array.images.shape == (len(train_y), 1, 32, 32) and array.images.dtype == torch.uint8
    assert (array.images.float() / 255 - expected).abs().max() <= 0.5 / 255 + 1e-6
    assert torch.equal(array.labels, train_y)
    x, y = load_dataset("mnist", 32).sample_labeled(64, gen(0))
    assert x.shape == (64, 1, 32, 32) and torch.equal(y, array.labels[matching_rows(x, array)])


def test_stacked_mnist_stacks_three_digits_with_30_tags(fake_data_root):
    array = image_data.mnist_array(fake_data_root, 64)
    x, y = load_dataset("stacked-mnist", 64).sample_labeled(16, gen(1))
    assert x.shape == (16, 3, 64, 64) and y.shape == (16, 30)
    digits = array.labels[matching_rows(x.reshape(48, 1, 64, 64), array)].reshape(16, 3)
    assert torch.equal(y.reshape(16, 3, 10).argmax(2), digits) and torch.all(y.sum(1) == 3)


@pytest.mark.parametrize("size", [32, 64])
def test_cifar10_is_read_from_pickled_batches(size):
    batches = [cifar_batch(CIFAR_PER_BATCH, seed) for seed in range(5)]
    images = torch.from_numpy(np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32))
    labels = torch.tensor(sum((b["labels"] for b in batches), []))
    ds = load_dataset("cifar10", size)
    array = image_data.cifar10_array(image_data.data_root(), size)
    assert ds.shape == (3, size, size) and ds.n_classes == 10 and not ds.multi_label
    assert array.images.shape == (5 * CIFAR_PER_BATCH, 3, size, size) and torch.equal(array.labels, labels)
    if size == 32:
        assert torch.equal(array.images, images)
    x, y = ds.sample_labeled(20, gen(2))
    assert torch.equal(y, labels[matching_rows(x, array)])


@pytest.mark.parametrize("size", [32, 64])
def test_celeba_is_center_cropped_with_40_attribute_tags(fake_data_root, size):
    _, files, attributes = image_data.celeba_attributes(fake_data_root / "celeba")
    array = image_data.celeba_array(fake_data_root, size)
    assert len(files) == CELEBA_IMAGES and array.images.shape == (CELEBA_IMAGES, 3, size, size)
    assert torch.equal(array.labels, attributes) and set(attributes.unique().tolist()) == {0.0, 1.0}
    colours = torch.tensor([celeba_colour(i) for i in range(CELEBA_IMAGES)], dtype=torch.float32)
    error = (array.images.float() - colours[:, :, None, None]).abs()
    # JPEG ringing only: a black border left by a wrong crop would be off by the blue channel's 128
    assert error.mean() < 2 and error.amax() < 64
    ds = load_dataset("celeba", size)
    assert ds.n_classes == 40 and ds.multi_label


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST/raw"), ("stacked-mnist", "MNIST/raw"),
                                          ("cifar10", "cifar-10-batches-py"), ("celeba", "celeba")])
def test_missing_data_names_the_option_and_the_folder(tmp_path, name, folder):
    assert TrainConfig(dataset=name, data_root=str(tmp_path)).data_root == str(tmp_path)  # the config reads no file
    with pytest.raises(ValueError) as err:
        load_dataset(name, 32, str(tmp_path))  # as a study's driver does, once, before any trial
    message = str(err.value)
    assert message.startswith("data_root: ") and "\n" not in message
    assert "--data-root" in message and str(tmp_path / folder) in message


def test_training_reads_mnist_from_the_configured_data_root(fake_data_root, monkeypatch):
    monkeypatch.setenv("GAN_STUDIES_DATA", str(fake_data_root / "elsewhere"))
    reports = []
    config = TrainConfig.from_dict({**TINY, "dataset": "mnist", "data_root": str(fake_data_root), "image_size": 64})
    assert train(config, reports.append) == "finished"
    assert 0 <= reports[0]["metrics"]["score"] <= 1


# ------------------------------------------------------------ the decoded array

def write_rows(values, skipped=()):
    def build(write):
        for v in values:
            write(torch.full((2, 1, 4, 4), v, dtype=torch.uint8))
        return {"labels": torch.arange(2 * len(values)), "skipped": list(skipped)}
    return build


def test_arrays_are_decoded_once_and_rebuilt_when_the_source_changes():
    with pytest.warns(UserWarning, match="/somewhere/bad.png"):
        first = image_store.cached_array("rows", "key-1", write_rows([1, 2, 3], ["/somewhere/bad.png"]))
    assert first.images.shape == (6, 1, 4, 4) and first.images[:, 0, 0, 0].tolist() == [1, 1, 2, 2, 3, 3]
    image_store._LOADED.clear()  # as in a new process: the cache file is mapped, not decoded again
    with pytest.warns(UserWarning, match="/somewhere/bad.png"):
        again = image_store.cached_array("rows", "key-1", lambda write: pytest.fail("decoded again"))
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)
    changed = image_store.cached_array("rows", "key-2", write_rows([7]))
    assert changed.images.shape == (2, 1, 4, 4) and int(changed.images.max()) == 7


@pytest.mark.parametrize("name", ["mnist", "stacked-mnist", "cifar10", "celeba"])
def test_sampling_is_deterministic_and_the_same_on_a_device_or_mapped(name, monkeypatch, second_device):
    ds = load_dataset(name, 32)
    x, y = ds.sample_labeled(24, gen(5))
    x2, y2 = ds.sample_labeled(24, gen(5))
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, ds.sample(24, gen(6)))
    moved = ds.to(second_device, 2**30)  # as on a GPU: the same draws, from a copy of the array there
    xm, ym = moved.sample_labeled(24, gen(5))
    assert xm.device.type == ym.device.type == second_device
    assert torch.equal(xm.cpu(), x) and torch.equal(ym.cpu(), y) and torch.equal(moved.sample(24, gen(5)).cpu(), x)
    assert ds.to(second_device, 0).sample(24, gen(5)).device.type == "cpu"  # over the budget: stays mapped
    monkeypatch.setenv(image_store.BUDGET_ENV, "0")  # over the cap, whatever the budget
    assert torch.equal(load_dataset(name, 32).to(second_device, 2**30).sample_labeled(24, gen(5))[0], x)


def test_the_budget_and_the_cap_decide_what_moves(monkeypatch):
    array = image_store.cached_array("rows", "budget", write_rows([5]))
    size = array.images.numel()
    assert array.fits(size) and not array.fits(size - 1) and array.to("cpu", size) is array
    assert array.to("meta", size - 1) is array and array.to("meta", size).images.device.type == "meta"
    monkeypatch.setenv(image_store.BUDGET_ENV, str(size - 1))  # the cap wins over a larger budget
    assert not array.fits(10 * size) and array.to("meta", 10 * size) is array
    monkeypatch.setenv(image_store.BUDGET_ENV, str(size))
    assert array.fits(size) and not array.fits(size - 1)
    monkeypatch.setenv(image_store.BUDGET_ENV, "4GiB")
    with pytest.raises(ValueError, match="^GAN_STUDIES_MEMORY_BUDGET: '4GiB' is not a number of bytes"):
        array.fits(size)


def test_datasets_without_an_array_stay_where_they_are():
    for name in ("ring8", "digits"):
        ds = load_dataset(name, 32)
        assert ds.to("meta", 2**30) is ds


# ------------------------------------------------------------ MNIST scores

def test_mnist_scores_see_a_single_class_as_collapse():
    ds = load_dataset("mnist", 32)
    x, y = ds.sample_labeled(1200, gen(7))
    real, ones = ds.score_samples(x[:400]), ds.score_samples(x[y == 1][:100])
    assert real["diversity"] > 0.9 and real["effective_modes"] > 8
    assert ones["effective_modes"] < 2 and ones["diversity"] < 0.25


def test_stacked_mnist_scores_see_one_triple_as_collapse():
    ds = load_dataset("stacked-mnist", 32)
    x = ds.sample(400, gen(8))
    real, one = ds.score_samples(x), ds.score_samples(x[:1].expand(400, -1, -1, -1))
    assert real["modes_covered"] > 200 and real["diversity"] > 0.85
    assert one["modes_covered"] == 1 and one["diversity"] < 0.01


# ------------------------------------------------------------ the command line

def run_study(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "studies.dg_ratio", "--dry-run", *args], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": ""})


@pytest.mark.parametrize("args, expected", [
    (["--dataset", "folder:/nonexistent"], "error: --dataset: 'folder:/nonexistent': /nonexistent does not exist"),
    (["--dataset", "mnist", "--data-root", "{empty}"], "error: --data-root: mnist not found in {empty}/MNIST/raw"),
])
def test_bad_datasets_exit_2_with_one_line_before_any_work(tmp_path, args, expected):
    (tmp_path / "empty").mkdir()
    proc = run_study(tmp_path, *[a.format(empty=tmp_path / "empty") for a in args])
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert expected.format(empty=tmp_path / "empty") in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no mlflow.db, no ray_results
