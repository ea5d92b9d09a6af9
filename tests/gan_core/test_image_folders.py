"""Tests of image folders (`folder:PATH`): listing, cropping and tags, labels.csv read alone for the
tag count, decoding once and again when the folder changes, training on one, and its path made
absolute by the command line."""

import pytest
import torch
from PIL import Image

from fake_datasets import matching_rows
from gan_core import image_folders
from gan_core.config import TrainConfig
from gan_core.datasets import dataset_entry, load_dataset
from gan_core.train import train
from studies.dg_ratio import STUDY
from studies.declare.cli import make_plan

TINY = dict(arch="dcgan", nz=8, ngf=4, ndf=4, batch_size=8, eval_samples=32, max_steps=1, eval_every=1)


def gen(seed):
    return torch.Generator().manual_seed(seed)


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
    scan = image_folders.scan_folder(str(image_folder))
    assert scan.files == tuple(sorted(FOLDER_ORDER + ["broken.png"]))
    array = image_folders.folder_array(scan, size)
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
            load_dataset(f"folder:{path}")
        assert str(err.value).startswith("dataset: ") and str(path) in str(err.value) and what in str(err.value)


def test_a_folder_of_only_unreadable_files_fails_naming_one(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    ds = load_dataset(f"folder:{tmp_path}", 32)  # the check lists files; decoding happens at the first sample
    with pytest.raises(ValueError, match=r"none of the 1 image files could be read, e\.g\. .*bad\.jpg"):
        ds.sample(1, gen(0))


def test_its_tags_are_counted_from_labels_csv_alone(image_folder):
    assert image_folders.folder_tag_count(str(image_folder)) == 5  # blue (a line for an absent file counts), dark, ...
    assert dataset_entry(f"folder:{image_folder}").n_classes == 5
    (image_folder / "labels.csv").write_text("file,tags\na/red.png,red\n")  # a new version is read again
    assert dataset_entry(f"folder:{image_folder}").n_classes == 1
    (image_folder / "labels.csv").unlink()
    assert dataset_entry(f"folder:{image_folder}").n_classes == 0


def test_training_runs_on_a_folder(image_folder):
    reports = []
    with pytest.warns(UserWarning, match="broken.png"):
        status = train(TrainConfig.from_dict({**TINY, "dataset": f"folder:{image_folder}"}), reports.append)
    assert status == "finished" and len(reports) == 1
    metrics = reports[0]["metrics"]  # no known modes: the scores come from coverage, precision and MS-SSIM
    assert all(0 <= metrics[k] <= 1 for k in ("diversity", "quality", "score", "coverage", "precision"))




def test_a_changed_folder_is_decoded_again(image_folder):
    (image_folder / "labels.csv").unlink()
    before = load_dataset(f"folder:{image_folder / 'c'}", 32).sample(2, gen(0))
    Image.new("L", (40, 40), 50).save(image_folder / "c" / "gray.png")
    after = load_dataset(f"folder:{image_folder / 'c'}", 32).sample(2, gen(0))
    assert torch.allclose(before, torch.full_like(before, 200 / 255))
    assert torch.allclose(after, torch.full_like(after, 50 / 255))




def test_a_folder_dataset_resolves_to_an_absolute_path(image_folder, monkeypatch):
    monkeypatch.chdir(image_folder.parent)
    plan = make_plan(STUDY, ["--dry-run", "--dataset", f"folder:{image_folder.name}", "--data-root", "."])
    assert plan.base["dataset"] == f"folder:{image_folder}" and plan.base["data_root"] == str(image_folder.parent)
    assert all(c.dataset == f"folder:{image_folder}" and c.arch == "dcgan" for c in plan.configs)
