"""Tests of gan_core.datasets: the registry and the facts each entry states, sampling and the scorers' contract."""

import math

import pytest
import torch

from gan_core import classifiers
from gan_core.datasets import DATASETS, IMAGE_SIZES, SOURCES, dataset_entry, grid_centers, load_dataset, ring_centers

SCORE_KEYS = {"modes_covered", "hq_ratio", "reverse_kl", "diversity", "quality", "score"}


def test_registry_holds_the_first_datasets():
    assert {"ring8", "grid25", "stacked-digits"} <= set(DATASETS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_each_entry_states_the_facts_of_what_it_loads(name):
    entry = DATASETS[name]
    assert entry.kind in ("points", "images") and entry.source in SOURCES and set(entry.image_sizes) <= set(IMAGE_SIZES)
    for size in entry.image_sizes:
        ds = load_dataset(name, size)
        assert (ds.kind, ds.n_classes, ds.multi_label, ds.n_modes) == (entry.kind, entry.n_classes, entry.multi_label,
                                                                      entry.n_modes)
        assert (ds.score_samples is not None) == (entry.n_modes is not None)
        assert (ds.features is not None) == entry.classifier
        assert (ds.sample_labeled is not None) == (entry.n_classes > 0)
        assert ds.kind == "points" or ds.shape[1:] == (size, size)


def test_where_the_files_come_from():
    embedded = {name for name, entry in DATASETS.items() if entry.source == "embedded"}
    assert embedded == {"ring8", "grid25", "stacked-digits", "digits"}  # they load with no data root at all
    for name in embedded:
        assert load_dataset(name, 32, "/nonexistent").name == name
    for name in set(DATASETS) - embedded:
        with pytest.raises(ValueError, match="^data_root: "):
            load_dataset(name, 32, "/nonexistent")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_samples_have_the_declared_shape_and_range(name):
    ds = load_dataset(name)
    x = ds.sample(16, torch.Generator().manual_seed(0))
    assert ds.name == name and ds.kind in ("points", "images")
    assert x.shape == (16, *ds.shape) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert torch.isfinite(x).all()
    if ds.kind == "points":
        assert ds.shape == (2,)
    else:
        assert len(ds.shape) == 3 and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_sampling_is_deterministic_given_the_generator(name):
    ds = load_dataset(name)
    a = ds.sample(32, torch.Generator().manual_seed(3))
    b = ds.sample(32, torch.Generator().manual_seed(3))
    c = ds.sample(32, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


KNOWN_MODES = sorted(name for name, entry in DATASETS.items() if entry.n_modes is not None)


def test_which_datasets_have_known_modes():
    """The others are scored from sample-set metrics (tests/gan_core/test_evaluation.py)."""
    assert set(DATASETS) - set(KNOWN_MODES) == {"cifar10", "celeba"}


@pytest.mark.parametrize("name", KNOWN_MODES)
def test_scores_have_every_key_and_are_finite(name):
    ds = load_dataset(name)
    scores = ds.score_samples(ds.sample(64, torch.Generator().manual_seed(5)))
    assert SCORE_KEYS <= set(scores)
    histograms = {k: scores.pop(k) for k in ("mode_counts", "mode_counts_real")}
    assert all(type(v) is float and math.isfinite(v) for v in scores.values())
    assert all(len(h) == ds.n_modes and all(type(c) is int and c >= 0 for c in h) for h in histograms.values())
    assert all(0 <= scores[k] <= 1 for k in ("diversity", "quality", "score"))
    assert scores["score"] == pytest.approx(scores["diversity"] * scores["quality"])
    assert 1 <= scores["modes_covered"] <= ds.n_modes


def test_mixture_centres_follow_the_papers():
    ring = ring_centers(8, 1.0)
    assert torch.allclose(ring.norm(dim=1), torch.ones(8))
    assert torch.allclose(ring[2], torch.tensor([0.0, 1.0]), atol=1e-6)
    expected = {(-4.0 + 2 * i, -4.0 + 2 * j) for i in range(5) for j in range(5)}
    assert {tuple(p) for p in grid_centers(5, 2.0).tolist()} == expected
    assert load_dataset("ring8").n_modes == 8 and load_dataset("grid25").n_modes == 25


def test_point_datasets_ignore_image_size():
    assert load_dataset("grid25", 64).shape == (2,)


def test_stacked_digits_at_64_and_bad_sizes():
    ds = load_dataset("stacked-digits", 64)
    assert ds.shape == (3, 64, 64) and ds.n_modes == 1000
    assert ds.sample(2, torch.Generator().manual_seed(0)).shape == (2, 3, 64, 64)
    with pytest.raises(ValueError, match=r"^image_size: 48 is not one of 32, 64 \(dataset 'stacked-digits'\)"):
        load_dataset("stacked-digits", 48)


def test_stacked_channels_are_training_digits():
    digits, _ = classifiers.digit_images("train", 32)
    x = load_dataset("stacked-digits").sample(4, torch.Generator().manual_seed(1))
    channels = x.reshape(-1, 1, 32 * 32)
    distance = (channels - digits.reshape(1, -1, 32 * 32)).abs().amax(dim=2).amin(dim=1)
    assert torch.all(distance == 0)


@pytest.mark.parametrize("lookup", [load_dataset, dataset_entry])
def test_unknown_dataset_names_the_field_and_the_choices(lookup):
    with pytest.raises(ValueError) as err:
        lookup("no-such-data")
    message = str(err.value)
    assert "dataset" in message and "no-such-data" in message
    assert all(name in message for name in DATASETS)


LABELLED = sorted(name for name, entry in DATASETS.items() if entry.n_classes)


def test_the_digit_datasets_are_labelled():
    assert {"digits", "stacked-digits"} <= set(LABELLED)


@pytest.mark.parametrize("name", LABELLED)
def test_labelled_samples_match_the_unlabelled_stream(name):
    ds = load_dataset(name)
    x, y = ds.sample_labeled(64, torch.Generator().manual_seed(2))
    assert torch.equal(x, ds.sample(64, torch.Generator().manual_seed(2)))
    if ds.multi_label:
        assert y.shape == (64, ds.n_classes) and y.dtype == torch.float32 and set(y.unique().tolist()) <= {0.0, 1.0}
    else:
        assert y.shape == (64,) and y.dtype == torch.long and 0 <= y.min() and y.max() < ds.n_classes


@pytest.mark.parametrize("name", ["digits", "stacked-digits"])
def test_digit_labels_are_what_the_reference_classifier_reads(name):
    ds = load_dataset(name)
    x, y = ds.sample_labeled(300, torch.Generator().manual_seed(4))
    read = classifiers.digit_probabilities(x).argmax(1).reshape(300, -1)
    expected = y.reshape(300, -1, 10).argmax(2) if ds.multi_label else y[:, None]
    assert (read == expected).float().mean() >= 0.95


def test_one_digit_class_is_collapse_on_digits():
    ds = load_dataset("digits")
    x, y = ds.sample_labeled(4000, torch.Generator().manual_seed(5))
    real = ds.score_samples(x[:1000])
    sevens = ds.score_samples(x[y == 7][:500])
    assert real["diversity"] >= 0.95 and real["effective_modes"] > 9.5 and real["modes_covered"] == 10
    assert sevens["effective_modes"] < 1.3 and sevens["diversity"] < 0.15 and sevens["score"] < 0.15
