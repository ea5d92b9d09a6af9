"""Tests of gan_core.classifiers: the digits and MNIST reference classifiers are accurate,
trained once per cache and kept once per process and device, and leave the global RNG alone; the
digits they learn from are scikit-learn's, read without importing scikit-learn."""

import functools

import numpy as np
import pytest
import torch

from gan_core import classifiers, image_data


@pytest.mark.parametrize("found", [True, False], ids=["sklearn's file", "through sklearn"])
def test_the_digits_are_sklearns_load_digits(monkeypatch, found):
    from sklearn.datasets import load_digits

    if not found:  # no file where it is looked for: scikit-learn's own loader
        monkeypatch.setattr(classifiers, "sklearn_digits_file", lambda: None)
    images, labels = classifiers.load_digits()
    digits = load_digits()
    assert images.dtype == digits.images.dtype and labels.dtype == digits.target.dtype
    assert np.array_equal(images, digits.images) and np.array_equal(labels, digits.target)


def test_reference_classifier_is_accurate_on_held_out_digits():
    images, labels = classifiers.digit_images("held_out", 32)
    assert len(labels) >= 300
    assert classifiers.classifier_accuracy(classifiers.reference_classifier(), images, labels) >= 0.97


def test_reference_classifier_is_cached_on_disk_and_in_memory(monkeypatch, tmp_path):
    first = classifiers.reference_classifier()
    path = classifiers.classifier_path()
    mtime = path.stat().st_mtime_ns
    assert classifiers.reference_classifier() is first
    monkeypatch.setattr(classifiers, "_CLASSIFIERS", {})
    monkeypatch.setattr(classifiers, "train_reference_classifier", lambda *a, **k: pytest.fail("retrained"))
    loaded = classifiers.reference_classifier()
    assert loaded is not first and not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), loaded.state_dict().values()))
    assert path.stat().st_mtime_ns == mtime
    monkeypatch.setenv("GAN_STUDIES_CACHE", str(tmp_path))
    assert classifiers.classifier_path() == tmp_path / classifiers.CLASSIFIER_FILE


def test_one_copy_per_device():
    cpu = classifiers.reference_classifier("cpu")
    meta = classifiers.reference_classifier("meta")  # any second device: "cuda" on a GPU machine
    assert classifiers.reference_classifier(torch.device("cpu")) is cpu and classifiers.reference_classifier("meta") is meta
    assert meta is not cpu and next(meta.parameters()).device.type == "meta"
    assert next(cpu.parameters()).device.type == "cpu"  # the CPU copy is never moved


@pytest.mark.parametrize("content", [b"not a state dict", None])
def test_unreadable_or_foreign_cache_file_is_retrained(monkeypatch, tmp_path, content):
    path = tmp_path / classifiers.CLASSIFIER_FILE
    if content is None:
        torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    else:
        path.write_bytes(content)
    quick = classifiers.train_reference_classifier
    monkeypatch.setattr(classifiers, "train_reference_classifier", lambda: quick(epochs=1))
    monkeypatch.setattr(classifiers, "_CLASSIFIERS", {})
    monkeypatch.setenv("GAN_STUDIES_CACHE", str(tmp_path))
    model = classifiers.reference_classifier()
    assert not model.training and classifiers.load_classifier(path) is not None


def test_loading_and_training_leave_the_global_rng_alone(monkeypatch):
    classifiers.reference_classifier()  # cached on disk
    monkeypatch.setattr(classifiers, "_CLASSIFIERS", {})  # the next use loads it from the file
    state = torch.get_rng_state()
    classifiers.reference_classifier()
    assert torch.equal(torch.get_rng_state(), state)
    classifiers.train_reference_classifier(epochs=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_mnist_classifier_is_accurate_and_read_back_from_its_cache_file(fake_data_root, monkeypatch):
    model = classifiers.mnist_classifier(functools.partial(image_data.mnist_digits, fake_data_root))
    assert (classifiers.cache_dir() / classifiers.MNIST_CLASSIFIER_FILE).is_file()
    images, labels = image_data.mnist_digits(fake_data_root, "t10k")
    assert classifiers.classifier_accuracy(model, images, labels) >= 0.9
    monkeypatch.setattr(classifiers, "_CLASSIFIERS", {})
    again = classifiers.mnist_classifier(lambda: pytest.fail("trained again"))
    with torch.no_grad():
        assert torch.equal(again(images[:50, None]), model(images[:50, None]))
