"""Every registered feature extractor: shape, determinism, finiteness, the global RNG left alone;
then what each one promises (random CNN seeded across processes, classifier = penultimate layer,
InceptionV3 loaded offline from the documented weights file)."""

import pickle
import subprocess
import sys

import pytest
import torch
import torchvision

from gan_core import classifiers, features
from gan_core.datasets import load_dataset
from gan_core.metrics import frechet_distance, gaussian_fit


def gen(seed):
    return torch.Generator().manual_seed(seed)


def random_inception_state() -> dict:
    """A state_dict with the FID InceptionV3's keys and shapes (torchvision's layout, 1008 classes), random values."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True, num_classes=1008)
    return net.state_dict()


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "random-inception.pt"
    torch.save(random_inception_state(), path)
    return path


@pytest.fixture(autouse=True)
def inception_weights(monkeypatch, inception_file, tmp_path):
    """Offline: the documented variable names random weights; torch hub's cache is an empty folder."""
    monkeypatch.setenv(features.INCEPTION_ENV, str(inception_file))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return inception_file


def digits(name="stacked-digits", n=4, size=32, seed=0):
    return load_dataset(name, size).sample(n, gen(seed))


# ------------------------------------------------------------ every extractor

@pytest.mark.parametrize("name", sorted(features.FEATURES))
@pytest.mark.parametrize("channels, size", [(3, 32), (1, 64)])
def test_extractor_shape_determinism_and_rng(name, channels, size):
    images = torch.rand(3, channels, size, size, generator=gen(1))
    rng = torch.get_rng_state()
    first = features.extract(name, images)
    second = features.extract(name, images)
    assert torch.equal(torch.get_rng_state(), rng)
    assert first.dtype == torch.float32 and first.dim() == 2 and first.shape[0] == 3
    assert torch.isfinite(first).all()
    assert torch.equal(first, second)
    assert not torch.equal(first[0], first[1])  # distinct images, distinct features


@pytest.mark.parametrize("name", sorted(features.FEATURES))
def test_extractor_batches_do_not_change_features(name):
    images = digits(n=5)
    whole = features.FEATURES[name](images)
    pieces = features.FEATURES[name](images, batch_size=2)
    assert torch.allclose(whole, pieces, rtol=1e-4, atol=1e-5)


def test_unknown_space_and_non_images_are_refused():
    with pytest.raises(ValueError, match="features must be one of"):
        features.extract("vgg", digits())
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        features.extract("random", torch.rand(4, 2))


# ------------------------------------------------------------------ random

def test_random_cnn_shape_for_any_channels_and_size():
    for channels in (1, 3, 4):
        for size in (32, 64):
            assert features.random_features(torch.rand(2, channels, size, size)).shape == (2, 512)


def test_random_cnn_depends_on_the_seed_only():
    images = digits()
    assert torch.equal(features.random_features(images, seed=3), features.random_features(images, seed=3))
    assert not torch.allclose(features.random_features(images, seed=3), features.random_features(images, seed=4))


def test_random_cnn_is_the_same_in_a_fresh_process(tmp_path):
    out = tmp_path / "features.pt"
    script = ("import sys, torch; torch.set_num_threads(1); from gan_core import features; "
              "x = torch.linspace(0, 1, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32); "
              "torch.save(features.random_features(x), sys.argv[1])")
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, timeout=120)
    here = features.random_features(torch.linspace(0, 1, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32))
    assert torch.equal(torch.load(out, weights_only=True), here)


def test_random_features_rank_real_halves_above_collapse_and_noise():
    ds = load_dataset("digits", 32)
    real_a, real_b = ds.sample(400, gen(1)), ds.sample(400, gen(2))
    collapsed = real_b[:1].expand(400, -1, -1, -1)
    noise = torch.rand(400, 1, 32, 32, generator=gen(3))

    def fd(x, y):
        return frechet_distance(*gaussian_fit(features.random_features(x)), *gaussian_fit(features.random_features(y)))

    between_halves = fd(real_a, real_b)
    assert between_halves < 0.2 * fd(real_a, collapsed)
    assert between_halves < 0.2 * fd(real_a, noise)


# -------------------------------------------------------------- classifier

def test_classifier_features_are_the_input_of_the_last_linear_layer():
    images = digits(n=6)
    model = classifiers.reference_classifier()
    feats = features.classifier_features(images)
    assert feats.shape == (6, 3 * 512)
    for c in range(3):
        per_channel = feats[:, 512 * c:512 * (c + 1)]
        assert torch.equal(per_channel, features.classifier_features(images[:, c:c + 1]))
        with torch.no_grad():
            logits = model(images[:, c:c + 1])
        assert torch.allclose(model[-1](per_channel), logits, atol=1e-5)


def test_classifier_loaded_from_its_cache_file_leaves_the_rng_alone(monkeypatch):
    features.classifier_features(digits(n=1))  # trained and cached on disk if it was not yet
    monkeypatch.setattr(classifiers, "_CLASSIFIERS", {})  # next use builds the net and loads the file
    rng = torch.get_rng_state()
    features.classifier_features(digits(n=1))
    assert torch.equal(torch.get_rng_state(), rng)


def test_classifier_features_resize_64_pixel_digits():
    assert features.classifier_features(digits("digits", n=2, size=64)).shape == (2, 512)


# --------------------------------------------------------------- inception

def test_inception_loads_the_weights_file_it_is_given(inception_file):
    images = digits(n=2)
    feats = features.inception_features(images)
    assert feats.shape == (2, 2048)
    net = features._inception_net(str(inception_file.resolve()), "cpu")
    saved = torch.load(inception_file, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in net.state_dict().items())
    assert torch.equal(features.inception_features(images[:, :1]),
                       features.inception_features(images[:, :1].expand(-1, 3, -1, -1)))


def test_inception_without_weights_names_the_variable(monkeypatch):
    monkeypatch.delenv(features.INCEPTION_ENV)
    with pytest.raises(FileNotFoundError, match=features.INCEPTION_ENV):
        features.inception_features(digits(n=1))
    monkeypatch.setenv(features.INCEPTION_ENV, "no-such-weights.pt")
    with pytest.raises(FileNotFoundError, match=features.INCEPTION_ENV):
        features.inception_features(digits(n=1))


@pytest.mark.parametrize("name", features.INCEPTION_FILES)
def test_inception_falls_back_to_torch_hubs_cache(monkeypatch, tmp_path, inception_file, name):
    monkeypatch.delenv(features.INCEPTION_ENV)
    cached = tmp_path / "torch-home" / "hub" / "checkpoints" / name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(inception_file.read_bytes())
    assert features.inception_weights_path() == cached
    assert features.inception_features(digits(n=1)).shape == (1, 2048)


class NotWeights:
    pass


def test_inception_weights_are_read_weights_only(monkeypatch, tmp_path):
    path = tmp_path / "pickled-object.pt"
    torch.save({"object": NotWeights()}, path)
    monkeypatch.setenv(features.INCEPTION_ENV, str(path))
    with pytest.raises(pickle.UnpicklingError):
        features.inception_features(digits(n=1))
