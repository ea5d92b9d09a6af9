"""TrainConfig: defaults are valid, every bad value names its field, and validation reads only
the registries' declared facts: every case here runs with no network, no data root and no
cache (the `no_io` fixture), and fails if building a config opens a file or a socket."""

import builtins
import io
import os
import re
import socket
from contextlib import contextmanager

import pytest

from gan_core import datasets
from gan_core.config import CHOICES, TrainConfig
from gan_core.datasets import DATASETS, DatasetEntry
from gan_core.losses import LOSS_OPTIONS, LOSSES, Loss, wasserstein_d, wasserstein_g
from gan_core.models import ARCHS, GAN_KNOBS, Arch, dcgan_d, dcgan_g

from conftest import TINY_IMAGES, TINY_POINTS


class IOAttempt(AssertionError):
    """Raised by the patched file and socket functions: not an OSError, so no handler hides it."""


class Recorder:
    """Every attempt to open a file, list a folder or make a socket, while it is on; the files
    named in `allowed` are opened for real, and listed in `reads`."""

    def __init__(self):
        self.attempts, self.reads, self.allowed, self.on = [], [], (), True

    def guard(self, name, real):
        def guarded(*args, **kwargs):
            if not self.on:
                return real(*args, **kwargs)
            if args and os.path.basename(str(args[0])) in self.allowed:
                self.reads.append(str(args[0]))
                return real(*args, **kwargs)
            self.attempts.append(f"{name}{args[:1]}")
            raise IOAttempt(f"{name}{args[:1]} while building a TrainConfig")
        return guarded

    @contextmanager
    def off(self):
        """Let the test itself write files (a folder dataset) unrecorded."""
        self.on = False
        try:
            yield
        finally:
            self.on = True


@pytest.fixture(autouse=True)
def no_io(monkeypatch, tmp_path):
    """No network, no data root, no cache, online (so a download would be tried): any open,
    folder listing or socket is recorded, raises, and fails the test at teardown."""
    missing = tmp_path / "nowhere"
    monkeypatch.setenv("GAN_STUDIES_DATA", str(missing / "data"))
    monkeypatch.setenv("GAN_STUDIES_CACHE", str(missing / "cache"))
    monkeypatch.delenv("GAN_STUDIES_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(missing / "torch"))  # no cached Inception weights
    monkeypatch.delenv("GAN_STUDIES_INCEPTION_WEIGHTS", raising=False)
    recorder = Recorder()
    for module, name in [(builtins, "open"), (io, "open"), (os, "open"), (os, "scandir"), (os, "listdir"),
                         (socket, "socket"), (socket, "create_connection")]:
        monkeypatch.setattr(module, name, recorder.guard(f"{module.__name__}.{name}", getattr(module, name)))
    yield recorder
    assert recorder.attempts == [], "validation touched files or the network"
    assert not missing.exists()


def test_defaults_are_valid_and_round_trip():
    config = TrainConfig()
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_lists_become_tuples():
    config = TrainConfig(real_label=[0.7, 1.2], fake_label=[0.0, 0.3])
    assert config.real_label == (0.7, 1.2) and config.fake_label == (0.0, 0.3)


def test_unknown_key_is_named():
    with pytest.raises(ValueError, match="disc_iters: unknown TrainConfig field"):
        TrainConfig.from_dict({"disc_iters": 5})


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_every_choice_field_rejects_unknown_names_and_lists_allowed(name):
    allowed = CHOICES[name]()
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict({name: "nope"})
    message = str(err.value)
    assert message.startswith(f"{name}: 'nope' is not one of")
    assert all(a in message for a in allowed)


@pytest.mark.parametrize("field, value", [
    ("max_steps", 0), ("batch_size", -1), ("d_steps", 0), ("g_steps", 101), ("lr_d", 0.0),
    ("label_flip", 0.9), ("image_size", 48), ("eval_every", 1.5), ("seed", -3),
    ("max_seconds", float("nan")), ("betas_g", (0.5, 1.0)), ("real_label", (1.2, 0.7)),
])
def test_out_of_range_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}: "):
        TrainConfig.from_dict({field: value})


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_validates_without_its_files(name):
    """The data root does not exist: a file-backed dataset's files are the study driver's check, not the config's."""
    base = TINY_POINTS if DATASETS[name].kind == "points" else TINY_IMAGES
    conditioning = "cgan" if DATASETS[name].n_classes else "none"
    config = TrainConfig.from_dict({**base, "dataset": name, "conditioning": conditioning})
    assert config.dataset == name
    if not DATASETS[name].n_classes:
        with pytest.raises(ValueError, match=r"^conditioning: 'cgan' needs labels; .*\(labelled: stacked-digits, "
                                             r"digits, mnist, stacked-mnist, cifar10, celeba, folder:PATH"):
            TrainConfig.from_dict({**base, "dataset": name, "conditioning": "cgan"})


@pytest.mark.parametrize("values, field, message", [
    ({"conditioning": "cgan", "dataset": "ring8", "arch": "mlp"}, "conditioning", "needs labels"),
    ({"conditioning": "acgan", "arch": "vae"}, "conditioning", "used by arch dcgan, dcgan-deep, upsample, resnet, mlp only; arch 'vae' takes 'none'"),
    ({"pack": 2, "arch": "vae"}, "pack", "arch 'vae' takes 1"),
    ({"hflip": True, "arch": "vae"}, "hflip", "arch 'vae' takes False"),
    ({"loss": "wgan", "arch": "vae"}, "loss", "arch 'vae' takes 'bce'"),
    ({"order": "g_first", "arch": "vae"}, "order", "arch 'vae' takes 'd_first'"),
    ({"norm_d": "spectral", "arch": "vae"}, "norm_d", "'spectral' is not one of batch, layer, none for arch 'vae'"),
    ({"kl_weight": 0.5}, "kl_weight", "used by arch vae only; arch 'dcgan' takes 1.0"),
    ({"clip_value": 0.05}, "clip_value", "weight clipping applies only to loss wgan; loss is 'bce'"),
    ({"gp_weight": 5.0, "loss": "wgan"}, "gp_weight", "gradient penalty applies only to loss wgan-gp; loss is 'wgan'"),
    ({"matching_aware": True}, "matching_aware", "applies to conditioning 'cgan' only"),
    ({"matching_aware": True, "conditioning": "acgan"}, "matching_aware", "'cgan' only"),
    ({"pack": 2, "conditioning": "cgan"}, "pack", "needs conditioning 'none'"),
    ({"pack": 3, "batch_size": 64}, "pack", "must divide batch_size"),
    ({"diffaug": "translation", "dataset": "grid25", "arch": "mlp"}, "diffaug", "holds points"),
    ({"hflip": True, "dataset": "ring8", "arch": "mlp"}, "hflip", "holds points"),
    ({"diffaug": "translation,rotate"}, "diffaug", "'rotate' is not one of translation, color, cutout"),
    ({"d_skip_below": 0.3, "loss": "wgan-gp"}, "d_skip_below", "(a D loss with a floor) applies only to loss bce, minimax, lsgan, hinge"),
    ({"conditioning": "projection", "dataset": "grid25", "arch": "mlp"}, "conditioning", "labelled: stacked-digits, digits"),
    ({"mbstd": 1}, "mbstd", "is not one of True, False"),
    ({"latent": "cauchy"}, "latent", "is not one of normal, uniform, sphere"),
    ({"ema": 1.0}, "ema", "a decay in [0, 1)"),
    ({"arch": "resnet", "dataset": "ring8"}, "arch", "use arch mlp"),
    ({"dataset": "folder:"}, "dataset", "names no folder"),
    ({"dataset": "nope"}, "dataset", "'nope' is not one of ring8, grid25, stacked-digits, digits, mnist, stacked-mnist, "
                                     "cifar10, celeba, folder:PATH"),
    ({"metrics": "fid"}, "metrics", "'fid' is not one of auto, none, or a comma-separated list of"),
    ({"metrics": "fd", "dataset": "ring8", "arch": "mlp"}, "metrics", "measures images"),
    ({"features": "vgg"}, "features", "is not one of auto, classifier, random, inception"),
    ({"features": "classifier", "dataset": "cifar10"}, "features", "has no reference classifier"),
    ({"features": "inception"}, "features", "GAN_STUDIES_INCEPTION_WEIGHTS"),
])
def test_invalid_combinations_fail_on_construction(values, field, message):
    with pytest.raises(ValueError) as err:
        TrainConfig.from_dict({**TINY_IMAGES, **values})
    assert str(err.value).startswith(f"{field}: ") and message in str(err.value)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("knob, value", [("real_label", (0.9, 0.9)), ("fake_label", (0.0, 0.2)), ("label_flip", 0.1),
                                         ("clip_value", 0.05), ("gp_weight", 5.0), ("d_skip_below", 0.3)])
def test_a_loss_option_is_accepted_exactly_where_the_loss_declares_it(loss, knob, value):
    values = {"loss": loss, knob: value}
    if knob in LOSSES[loss].options:
        assert getattr(TrainConfig.from_dict(values), knob) == value
    else:
        with pytest.raises(ValueError, match=rf"^{knob}: {re.escape(LOSS_OPTIONS[knob])} only to loss .*; loss is '{loss}'"):
            TrainConfig.from_dict(values)


def test_architecture_must_fit_the_data():
    with pytest.raises(ValueError, match="arch: 'dcgan' trains on images, dataset 'ring8' holds points; use arch mlp"):
        TrainConfig(dataset="ring8")
    with pytest.raises(ValueError, match="input_norm: 'imagenet' applies to images only"):
        TrainConfig(dataset="grid25", arch="mlp", input_norm="imagenet")


# --- the registries drive validation -------------------------------------------------------

def never_loaded(image_size, data_root):
    raise AssertionError("validation loaded the dataset")


def test_the_dataset_registry_drives_validation(monkeypatch):
    monkeypatch.setitem(DATASETS, "fake-faces", DatasetEntry(never_loaded, "images", 7, True, image_sizes=(64,),
                                                             source="data root"))
    monkeypatch.setitem(DATASETS, "fake-points", DatasetEntry(never_loaded, "points", n_modes=3))
    assert TrainConfig(dataset="fake-faces", image_size=64, conditioning="acgan").conditioning == "acgan"
    with pytest.raises(ValueError, match=r"^image_size: 32 is not one of 64 \(dataset 'fake-faces'\)"):
        TrainConfig(dataset="fake-faces")
    with pytest.raises(ValueError, match=r"^conditioning: .*\(labelled: .*celeba, fake-faces, folder:PATH"):
        TrainConfig(dataset="fake-points", arch="mlp", conditioning="cgan")
    with pytest.raises(ValueError, match="^features: dataset 'fake-faces' has no reference classifier"):
        TrainConfig(dataset="fake-faces", image_size=64, features="classifier")
    with pytest.raises(ValueError, match="holds points; use arch mlp"):
        TrainConfig(dataset="fake-points")
    assert "fake-faces" in datasets.dataset_choices()


def test_the_loss_registry_drives_validation(monkeypatch):
    monkeypatch.setitem(LOSSES, "clipped", Loss(wasserstein_d, wasserstein_g, prob=False, smoothing=True, clip=True))
    config = TrainConfig(loss="clipped", clip_value=0.05, real_label=(0.9, 0.9))
    assert (config.loss, config.clip_value) == ("clipped", 0.05)
    with pytest.raises(ValueError, match="^clip_value: weight clipping applies only to loss wgan, clipped; loss is 'bce'"):
        TrainConfig(clip_value=0.05)
    with pytest.raises(ValueError, match="^d_skip_below: .* applies only to loss bce, minimax, lsgan, hinge; loss is 'clipped'"):
        TrainConfig(loss="clipped", d_skip_below=0.3)


def test_the_architecture_registry_drives_validation(monkeypatch):
    no_flip = tuple(k for k in GAN_KNOBS if k != "hflip")
    monkeypatch.setitem(ARCHS, "fixed", Arch(dcgan_g, dcgan_d, "images", knobs=(*no_flip, "kl_weight"),
                                             d_norms=("batch",)))
    assert TrainConfig(arch="fixed", kl_weight=2.0, loss="hinge").kl_weight == 2.0
    with pytest.raises(ValueError, match="^hflip: True is used by arch dcgan, .*, mlp only; arch 'fixed' takes False"):
        TrainConfig(arch="fixed", hflip=True)
    with pytest.raises(ValueError, match="^norm_d: 'layer' is not one of batch for arch 'fixed'"):
        TrainConfig(arch="fixed", norm_d="layer")
    with pytest.raises(ValueError, match="^kl_weight: 2.0 is used by arch vae, fixed only; arch 'dcgan' takes 1.0"):
        TrainConfig(kl_weight=2.0)


# --- image folders: labels.csv is the one file validation reads ----------------------------

def test_a_folder_dataset_is_validated_from_its_labels_file_alone(no_io, tmp_path):
    folder = tmp_path / "faces"
    with no_io.off():
        folder.mkdir()
        (folder / "labels.csv").write_text("file,tags\na.png,red,warm\nb.png,\n")
        (folder / "notes.txt").write_text("not a folder")
    no_io.allowed = ("labels.csv",)
    for _ in range(2):
        assert TrainConfig(dataset=f"folder:{folder}", conditioning="cgan").conditioning == "cgan"
    assert no_io.reads == [str(folder / "labels.csv")]  # once, for its tags: no image listed, none decoded
    with no_io.off():
        (folder / "labels.csv").unlink()
    with pytest.raises(ValueError, match=rf"^conditioning: 'cgan' needs labels; dataset 'folder:{folder}' has none"):
        TrainConfig(dataset=f"folder:{folder}", conditioning="cgan")
    for path, what in [(tmp_path / "nowhere-else", "does not exist"), (folder / "notes.txt", "is not a folder")]:
        with pytest.raises(ValueError, match=f"^dataset: 'folder:{path}': {path} {what}"):
            TrainConfig(dataset=f"folder:{path}")
