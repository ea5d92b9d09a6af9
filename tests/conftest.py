"""Shared test settings: one torch thread (as a trial gets), Ray token auth set
explicitly, and a private cache for the reference classifier."""

import os

import pytest
import torch

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
torch.set_num_threads(1)

TINY_IMAGES = dict(dataset="stacked-digits", arch="dcgan", nz=8, ngf=4, ndf=4, batch_size=8,
                   eval_samples=32, max_steps=2, eval_every=1)
TINY_POINTS = dict(dataset="ring8", arch="mlp", nz=4, ngf=16, ndf=16, batch_size=32,
                   eval_samples=64, max_steps=2, eval_every=1)


@pytest.fixture(scope="session", autouse=True)
def classifier_cache(tmp_path_factory):
    """Keep the reference classifier of the test session out of the user's cache."""
    folder = os.environ.get("GAN_STUDIES_CACHE") or str(tmp_path_factory.mktemp("cache"))
    os.environ["GAN_STUDIES_CACHE"] = folder
    return folder
