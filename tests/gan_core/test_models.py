"""Every architecture x normalization x conditioning that is valid builds, has
the right shapes and trains a step at 32x32 and 64x64 (the invalid ones fail
on construction: tests/gan_core/test_config.py)."""

import itertools

import pytest
import torch

from gan_core.config import TrainConfig
from gan_core.datasets import IMAGE_SIZES
from gan_core.heads import CONDITIONINGS
from gan_core.layers import MinibatchStd
from gan_core.models import ARCHS, D_NORMS, G_NORMS
from gan_core.steps import one_round
from gan_core.train import build

from conftest import TINY_IMAGES, TINY_POINTS

IMAGE_ARCHS = sorted(a for a, spec in ARCHS.items() if spec.data_kind == "images")
LABELLED = {"digits": False, "stacked-digits": True}  # dataset -> multi-label


def combos():
    for arch, norm_d, cond, size in itertools.product(IMAGE_ARCHS, D_NORMS, CONDITIONINGS, IMAGE_SIZES):
        if norm_d in ARCHS[arch].takes_norm_d() and (cond == "none" or "conditioning" in ARCHS[arch].knobs):
            yield arch, norm_d, cond, size


def test_every_architecture_kind_is_covered():
    assert {"dcgan", "dcgan-deep", "upsample", "resnet", "vae"} <= set(IMAGE_ARCHS)
    assert {spec.data_kind for spec in ARCHS.values()} == {"images", "points"}


def trains_a_round(values: dict):
    run = build(TrainConfig.from_dict(values))
    before = [p.detach().clone() for p in run.g.parameters()]
    one_round(run)
    assert any(not torch.equal(a, b) for a, b in zip(before, run.g.parameters()))
    assert all(torch.isfinite(total).all() for total, _ in run.sums.values())
    return run


@pytest.mark.parametrize("arch, norm_d, cond, size", list(combos()))
def test_valid_combinations_train_a_step(arch, norm_d, cond, size):
    dataset = "digits" if cond == "acgan" else "stacked-digits"  # class ids and multi-hot tags both covered
    norm_g = list(G_NORMS)[(len(norm_d) + size) % len(G_NORMS)]  # alternate G norms across cases
    values = {**TINY_IMAGES, "arch": arch, "norm_d": norm_d, "norm_g": norm_g, "conditioning": cond,
              "image_size": size, "dataset": dataset if cond != "none" else "stacked-digits"}
    run = trains_a_round(values)
    z = torch.randn(4, run.config.nz)
    y = run.data.sample_labeled(4, torch.Generator().manual_seed(0))[1] if cond != "none" else None
    fake = run.g(z, y)
    assert fake.shape == (4, *run.data.shape)
    if ARCHS[arch].adversarial:
        out, aux = run.d(fake, y)
        assert out.shape == (4,)
        assert (aux is not None) == (cond == "acgan")
        if aux is not None:
            assert aux.shape == (4, run.data.n_classes)


@pytest.mark.parametrize("norm_d, norm_g", list(itertools.product(D_NORMS, G_NORMS)))
def test_the_mlp_pair_trains_with_every_normalization(norm_d, norm_g):
    trains_a_round({**TINY_POINTS, "norm_d": norm_d, "norm_g": norm_g})


def test_dcgan_init_follows_the_paper():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "ngf": 64}))
    conv = next(m for m in run.g.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert abs(conv.weight.std().item() - 0.02) < 0.002


def test_spectral_norm_bounds_d_weights():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "norm_d": "spectral"}))
    conv = next(m for m in run.d.modules() if isinstance(m, torch.nn.Conv2d))
    for _ in range(20):  # power iterations converge in train mode
        run.d(torch.randn(4, 3, 32, 32))
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_minibatch_stddev_sees_a_batch_without_variety():
    layer = MinibatchStd(group=4)
    varied, same = torch.randn(8, 3, 4, 4), torch.randn(1, 3, 4, 4).expand(8, 3, 4, 4)
    out_varied, out_same = layer(varied), layer(same)
    assert out_varied.shape == (8, 4, 4, 4)
    assert torch.all(out_same[:, 3] < 1e-3) and torch.all(out_varied[:, 3] > 0.5)
    assert torch.equal(out_varied[:, :3], varied)
    vectors = layer(torch.randn(8, 5))
    assert vectors.shape == (8, 6)


def test_packing_makes_d_judge_groups_of_samples():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "pack": 2}))
    first = next(m for m in run.d.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 6  # two RGB samples side by side in channels
    out, _ = run.d(torch.rand(8, 3, 32, 32))
    assert out.shape == (4,)
    x = torch.rand(8, 3, 32, 32)
    swapped = x.clone()
    swapped[[2, 3]] = x[[3, 2]]  # order within a pack matters, packs are judged independently
    a, b = run.d.eval()(x)[0], run.d(swapped)[0]
    assert torch.equal(a[[0, 2, 3]], b[[0, 2, 3]]) and not torch.equal(a[1], b[1])
