"""Tests of the file-backed datasets: torchvision's formats read offline, image folders,
the decoded-array cache and its device copy, the MNIST mode scores, and the
command line's dataset checks."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from fake_datasets import CELEBA_IMAGES, CIFAR_PER_BATCH, celeba_colour, cifar_batch, mnist_like
from gan_core import classifiers, image_data, image_store
from gan_core.utils import cache_dir, resize_images
from gan_core.config import TrainConfig
from gan_core.datasets import load_dataset
from gan_core.train import train
from studies.dg_ratio import STUDY
from studies.runner import make_plan

TINY = dict(arch="dcgan", nz=8, ngf=4, ndf=4, batch_size=8, eval_samples=32, max_steps=1, eval_every=1)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """Decoded arrays and the MNIST classifier of this module in a cache of its own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_STUDIES_CACHE", str(tmp_path_factory.mktemp("image-cache")))
        yield


def gen(seed):
    return torch.Generator().manual_seed(seed)


def matching_rows(x: torch.Tensor, array: image_store.ImageArray) -> torch.Tensor:
    """Index of the first array row equal to each sampled image (asserting there is one)."""
    rows = array.images.reshape(len(array), -1)
    found = [(rows == image).all(1).nonzero() for image in (x * 255).round().to(torch.uint8).reshape(x.shape[0], -1)]
    assert all(len(f) for f in found)
    return torch.cat([f[0] for f in found])


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
    with pytest.raises(ValueError) as err:
        load_dataset(name, 32, str(tmp_path))
    message = str(err.value)
    assert "--data-root" in message and str(tmp_path / folder) in message and "\n" not in message
    with pytest.raises(ValueError, match="^data_root: .*--data-root"):
        TrainConfig(dataset=name, data_root=str(tmp_path))


# ------------------------------------------------------------ image folders

def solid(width, height, colour, band=(0, 0, 255), mode="RGB"):
    """`colour` in the largest central square, `band` on the two leftover sides."""
    image = Image.new(mode, (width, height), band if mode == "RGB" else 0)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image.paste(colour, (left, top, left + side, top + side))
    return image


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "faces"
    for sub in ("a/b", "c", "d", ".hidden"):
        (root / sub).mkdir(parents=True)
    solid(48, 32, (255, 0, 0)).save(root / "a" / "red.png")  # landscape: side bands cropped away
    solid(32, 48, (0, 255, 0)).save(root / "a" / "b" / "green.jpg", quality=98, subsampling=0)  # portrait
    Image.new("L", (40, 40), 200).save(root / "c" / "gray.png")
    solid(64, 64, (10, 20, 30)).save(root / "d" / "dark.JPEG", quality=98, subsampling=0)
    solid(20, 20, (0, 0, 0)).save(root / ".hidden" / "ignored.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    (root / "notes.txt").write_text("not an image either")
    (root / "labels.csv").write_text("file,tags\na/red.png,red,warm\na/b/green.jpg,green\nc/gray.png,\n"
                                     "d/dark.JPEG,warm,dark\nbroken.png,red\nnot-here.png,blue\n")
    return root


FOLDER_ORDER = ["a/b/green.jpg", "a/red.png", "c/gray.png", "d/dark.JPEG"]  # sorted; broken.png skipped
FOLDER_COLOURS = [(0, 255, 0), (255, 0, 0), (200, 200, 200), (10, 20, 30)]


@pytest.mark.parametrize("size", [32, 64])
def test_folder_images_are_cropped_resized_and_tagged(image_folder, size):
    ds = load_dataset(f"folder:{image_folder}", size)
    assert ds.shape == (3, size, size) and ds.multi_label and ds.n_classes == 5  # blue, dark, green, red, warm
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image file\(s\): .*broken\.png"):
        x, y = ds.sample_labeled(32, gen(3))
    scan = image_data.scan_folder(str(image_folder))
    assert scan.files == tuple(sorted(FOLDER_ORDER + ["broken.png"]))
    array = image_data.folder_array(scan, size)
    assert array.images.shape == (4, 3, size, size)
    colours = torch.tensor(FOLDER_COLOURS, dtype=torch.float32)[:, :, None, None]
    assert (array.images.float() - colours).abs().amax() <= 6  # JPEG error only: no side bands left
    tags = ["blue", "dark", "green", "red", "warm"]
    expected = [{"green"}, {"red", "warm"}, set(), {"warm", "dark"}]
    assert [{tags[i] for i in row.nonzero().flatten().tolist()} for row in array.labels] == expected
    assert torch.equal(y, array.labels[matching_rows(x, array)])


def test_folder_without_labels_is_unlabelled_and_gray_becomes_rgb(image_folder):
    (image_folder / "labels.csv").unlink()
    ds = load_dataset(f"folder:{image_folder / 'c'}", 32)
    assert ds.n_classes == 0 and ds.sample_labeled is None
    x = ds.sample(4, gen(0))
    assert x.shape == (4, 3, 32, 32) and torch.allclose(x, torch.full_like(x, 200 / 255))


def test_an_image_without_a_labels_line_is_named(image_folder):
    (image_folder / "labels.csv").write_text("a/red.png,red\n")
    with pytest.raises(ValueError, match=r"^dataset: .*a/b/green\.jpg has no line in .*labels\.csv"):
        load_dataset(f"folder:{image_folder}", 32)


def test_empty_or_missing_folders_are_named(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no images")
    for path, what in [(tmp_path / "empty", "no image files"), (tmp_path / "nowhere", "does not exist"),
                       (tmp_path / "empty" / "readme.txt", "is not a folder")]:
        with pytest.raises(ValueError) as err:
            TrainConfig(dataset=f"folder:{path}")
        assert str(err.value).startswith("dataset: ") and str(path) in str(err.value) and what in str(err.value)


def test_a_folder_of_only_unreadable_files_fails_naming_one(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    ds = load_dataset(f"folder:{tmp_path}", 32)  # the check lists files; decoding happens at the first sample
    with pytest.raises(ValueError, match=r"none of the 1 image files could be read, e\.g\. .*bad\.jpg"):
        ds.sample(1, gen(0))


def test_config_validation_checks_files_without_decoding(image_folder):
    cached = lambda: sorted((cache_dir() / "images").glob("*.u8"))
    before = cached()
    config = TrainConfig(dataset=f"folder:{image_folder}", image_size=64)
    assert config.data_root == "" and cached() == before
    with pytest.raises(ValueError, match="^dataset: 'nope' is not one of .*stacked-mnist, cifar10, celeba, folder:PATH"):
        TrainConfig(dataset="nope")


def test_training_runs_on_a_folder(image_folder):
    reports = []
    with pytest.warns(UserWarning, match="broken.png"):
        status = train(TrainConfig.from_dict({**TINY, "dataset": f"folder:{image_folder}"}), reports.append)
    assert status == "finished" and len(reports) == 1
    metrics = reports[0]["metrics"]  # no known modes: the scores come from coverage, precision and MS-SSIM
    assert all(0 <= metrics[k] <= 1 for k in ("diversity", "quality", "score", "coverage", "precision"))


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


def test_a_changed_folder_is_decoded_again(image_folder):
    (image_folder / "labels.csv").unlink()
    before = load_dataset(f"folder:{image_folder / 'c'}", 32).sample(2, gen(0))
    Image.new("L", (40, 40), 50).save(image_folder / "c" / "gray.png")
    after = load_dataset(f"folder:{image_folder / 'c'}", 32).sample(2, gen(0))
    assert torch.allclose(before, torch.full_like(before, 200 / 255))
    assert torch.allclose(after, torch.full_like(after, 50 / 255))


@pytest.mark.parametrize("name", ["mnist", "stacked-mnist", "cifar10", "celeba"])
def test_sampling_is_deterministic_and_the_same_on_a_device_or_mapped(name, monkeypatch):
    ds = load_dataset(name, 32)
    x, y = ds.sample_labeled(24, gen(5))
    x2, y2 = ds.sample_labeled(24, gen(5))
    assert torch.equal(x, x2) and torch.equal(y, y2) and not torch.equal(x, ds.sample(24, gen(6)))
    moved = ds.to("cpu")  # "cuda" on a GPU machine: the same draws, from a copy of the array there
    xm, ym = moved.sample_labeled(24, gen(5))
    assert xm.device.type == "cpu" and torch.equal(xm, x) and torch.equal(ym, y)
    assert torch.equal(moved.sample(24, gen(5)), x)
    monkeypatch.setenv(image_store.BUDGET_ENV, "0")  # over the budget: stays memory-mapped on the CPU
    assert torch.equal(load_dataset(name, 32).to("cpu").sample_labeled(24, gen(5))[0], x)


def test_the_memory_budget_decides_what_moves(monkeypatch):
    array = image_store.cached_array("rows", "budget", write_rows([5]))
    assert array.movable and array.to("cpu") is array
    monkeypatch.setenv(image_store.BUDGET_ENV, str(array.images.numel() - 1))
    assert not array.movable and array.to("meta") is array
    monkeypatch.setenv(image_store.BUDGET_ENV, str(array.images.numel()))
    assert array.to("meta").images.device.type == "meta"
    monkeypatch.setenv(image_store.BUDGET_ENV, "4GiB")
    with pytest.raises(ValueError, match="^GAN_STUDIES_MEMORY_BUDGET: '4GiB' is not a number of bytes"):
        array.movable


def test_datasets_without_an_array_stay_where_they_are():
    for name in ("ring8", "digits"):
        ds = load_dataset(name, 32)
        assert ds.to("cpu") is ds


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


def test_a_folder_dataset_resolves_to_an_absolute_path(image_folder, monkeypatch):
    monkeypatch.chdir(image_folder.parent)
    plan = make_plan(STUDY, ["--dry-run", "--dataset", f"folder:{image_folder.name}", "--data-root", "."])
    assert plan.base["dataset"] == f"folder:{image_folder}" and plan.base["data_root"] == str(image_folder.parent)
    assert all(c.dataset == f"folder:{image_folder}" and c.arch == "dcgan" for c in plan.configs)
