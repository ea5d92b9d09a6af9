"""Shared test settings: one torch thread (as a trial gets), Ray token auth set
explicitly, one private cache for the session (reference classifiers, decoded
images), tiny fake torchvision datasets as the data root (see fake_datasets.py), and the
longest slow modules first, so that the workers of `-n` start them at once (see pyproject.toml)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ["GAN_STUDIES_OFFLINE"] = "1"  # a missing dataset fails at once, online or not
torch.set_num_threads(1)

TINY_IMAGES = dict(dataset="stacked-digits", arch="dcgan", nz=8, ngf=4, ndf=4, batch_size=8,
                   eval_samples=32, max_steps=2, eval_every=1)
TINY_POINTS = dict(dataset="ring8", arch="mlp", nz=4, ngf=16, ndf=16, batch_size=32,
                   eval_samples=64, max_steps=2, eval_every=1)
# the slow modules that take longest (minutes each: Ray nodes, servers, SSH hosts, a fresh venv): run first, a
# worker each, under `--dist loadscope --no-loadscope-reorder`, the rest fill in beside them
LONGEST_FIRST = ("studies/test_ray_up.py", "test_newcomer.py", "studies/test_cluster.py",
                 "benchmarks/test_benchmarks.py", "studies/test_studies_smoke.py")


@pytest.fixture(scope="session", autouse=True)
def classifier_cache(tmp_path_factory):
    """The one cache of the test session, out of the user's: the reference classifiers are trained
    (and the fake datasets decoded) once per run, whatever module needs them first. A test that
    needs an empty or broken cache points GAN_STUDIES_CACHE elsewhere with monkeypatch."""
    folder = str(tmp_path_factory.mktemp("cache"))
    os.environ["GAN_STUDIES_CACHE"] = folder
    return folder


def pytest_configure(config):
    """Tiny MNIST, CIFAR-10 and CelebA in torchvision's file formats become the default data
    root before collection (test modules build every registry entry at import): every entry
    loads offline, and never from the user's data folder."""
    from fake_datasets import write_all

    root = Path(tempfile.mkdtemp(prefix="gan-studies-data-"))
    write_all(root)
    os.environ["GAN_STUDIES_DATA"] = str(root)
    config.fake_data_root = root


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    rank = {str(here / name): i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(str(item.path), len(rank)))  # stable: the rest keep their order


def pytest_unconfigure(config):
    root = getattr(config, "fake_data_root", None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def second_device() -> str:
    """A second device with real values on a CPU-only machine: torch's lazy-tensor device on its
    TorchScript backend ("lazy", computed on the CPU). A tensor there is not a CPU tensor: mixing the
    two in one operation fails as mixing CPU and CUDA tensors does, and `.to` moves between them, so
    what a GPU run does across devices (copies, mismatches) is exercised here without a GPU."""
    import torch._lazy.ts_backend

    torch._lazy.ts_backend.init()  # once per process: a second call raises
    return "lazy"


@pytest.fixture(scope="session")
def fake_data_root(pytestconfig) -> Path:
    """The data root holding the fake MNIST, CIFAR-10 and CelebA."""
    return pytestconfig.fake_data_root
