"""Mitigations and tricks change what they should: EMA, DiffAugment, flips,
adaptive D, latents, R1, conditioning, the VAE baseline; and every
TrainConfig knob trains."""

import math
import os

import pytest
import torch

from gan_core import TrainConfig

from gan_core.train import train
from gan_core.augment import AUGMENTS, diff_augment, hflip, parse_policy
from gan_core.steps import d_step, g_step, latent, one_round, to_data
from gan_core.train import build, evaluate, generate

from conftest import TINY_IMAGES, TINY_POINTS


def run_reports(values: dict):
    reports = []
    status = train(TrainConfig.from_dict(values), reports.append)
    return status, reports


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- every knob ------------------------------------------------------------------

KNOBS = {  # field -> a non-default value that trains on the tiny image case (or its own case)
    "dataset": "digits", "image_size": 64, "input_norm": "imagenet", "batch_size": 4, "hflip": True,
    "arch": "resnet", "nz": 3, "latent": "sphere", "ngf": 6, "ndf": 6, "norm_g": "none", "norm_d": "spectral",
    "mbstd": True, "pack": 2, "conditioning": "projection", "matching_aware": True, "aux_weight": 0.5,
    "embed_dim": 5, "label_input": "onehot", "loss": "hinge", "clip_value": 0.05, "gp_weight": 5.0, "r1_weight": 1.0,
    "real_label": (0.7, 1.2), "fake_label": (0.0, 0.3), "label_flip": 0.1, "kl_weight": 0.5,
    "d_steps": 2, "g_steps": 2, "order": "g_first", "d_skip_below": 0.1, "ema": 0.9, "diffaug": "color",
    "opt_d": "rmsprop", "opt_g": "sgd", "lr_d": 1e-3, "lr_g": 1e-3, "betas_d": (0.0, 0.9),
    "betas_g": (0.0, 0.9), "budget": "updates", "max_steps": 3, "max_seconds": 30.0, "eval_every": 2, "eval_samples": 40,
    "collapse_threshold": 0.5, "collapse_quality": 0.2, "seed": 7, "device": "cpu",
    "data_root": os.environ["GAN_STUDIES_DATA"],  # the session's fake torchvision data (conftest)
    "metrics": "ms_ssim,ndb,prdc,fd", "features": "random", "precision": "bf16", "memory_format": "channels_last",
}
NEEDS = {  # what a knob needs beside it to be valid
    "matching_aware": {"conditioning": "cgan", "dataset": "digits"},
    "conditioning": {"dataset": "digits"},
    "aux_weight": {"conditioning": "acgan", "dataset": "digits"},
    "embed_dim": {"conditioning": "cgan", "dataset": "stacked-digits"},
    "label_input": {"conditioning": "cgan", "dataset": "stacked-digits"},  # multi-hot tags as they are
    "data_root": {"dataset": "mnist"},
    "clip_value": {"loss": "wgan"}, "gp_weight": {"loss": "wgan-gp"}, "kl_weight": {"arch": "vae"},
}


def test_every_trainconfig_field_has_a_knob_case():
    assert set(KNOBS) == set(TrainConfig().to_dict())


@pytest.mark.parametrize("field", sorted(KNOBS))
def test_every_knob_trains(field):
    values = {**TINY_IMAGES, **NEEDS.get(field, {}), field: KNOBS[field]}
    assert getattr(TrainConfig.from_dict(values), field) != getattr(TrainConfig(), field)
    status, reports = run_reports(values)
    assert status == "finished" and reports[-1]["state"] is not None
    for key, value in reports[-1]["metrics"].items():
        assert math.isfinite(value), key


def test_bf16_mixed_precision_trains_close_to_fp32_but_not_equal():
    values = {**TINY_IMAGES, "max_steps": 3, "loss": "wgan-gp", "conditioning": "acgan", "dataset": "digits"}
    full = run_reports({**values, "precision": "fp32"})[1][-1]["metrics"]
    mixed = run_reports({**values, "precision": "bf16"})[1][-1]["metrics"]
    assert full["loss_g"] != mixed["loss_g"]
    assert mixed["loss_g"] == pytest.approx(full["loss_g"], rel=0.2, abs=0.05)
    assert build(TrainConfig.from_dict(values)).amp is False  # auto: fp32 on the CPU


# --- EMA ----------------------------------------------------------------------------

def test_ema_copy_follows_g_by_its_decay():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "ema": 0.9}))
    before = [p.clone() for p in run.g_ema.parameters()]
    g_step(run)
    for old, new, g in zip(before, run.g_ema.parameters(), run.g.parameters()):
        assert torch.allclose(new, 0.9 * old + 0.1 * g)
    assert not all(torch.equal(a, b) for a, b in zip(run.g_ema.parameters(), run.g.parameters()))
    assert not any(p.requires_grad for p in run.g_ema.parameters())


def test_samples_and_scores_come_from_the_ema_copy():
    values = {**TINY_IMAGES, "max_steps": 3}
    plain = run_reports(values)[1][-1]
    averaged = run_reports({**values, "ema": 0.5})[1][-1]
    assert plain["metrics"]["loss_g"] == averaged["metrics"]["loss_g"]  # the training itself is the same
    assert not (plain["image"] == averaged["image"]).all()  # the pictures come from another G ...
    assert "g_ema" in averaged["state"]
    run = build(TrainConfig.from_dict({**values, "ema": 0.5}))
    one_round(run)
    samples, _ = generate(run, 8, seed=3)
    with torch.no_grad():
        from_ema = to_data(run, run.g_ema(latent(run.config, 8, gen(3)), None))
        from_g = to_data(run, run.g(latent(run.config, 8, gen(3)), None))
    assert torch.equal(samples, from_ema) and not torch.equal(samples, from_g)  # ... the EMA copy


# --- augmentation ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(AUGMENTS))
def test_every_diffaugment_policy_changes_images_differentiably_and_deterministically(name):
    x = torch.rand(6, 3, 32, 32, requires_grad=True)
    a, b = AUGMENTS[name](x, gen(1)), AUGMENTS[name](x, gen(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, x)
    a.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_translation_shifts_and_cutout_blanks_a_square():
    x = torch.ones(64, 1, 32, 32)
    cut = AUGMENTS["cutout"](x, gen(2))
    zeros = (cut == 0).flatten(1).sum(1)
    assert zeros.max() == 16 * 16 and zeros.min() > 0  # a 16x16 square, sometimes cut by the border
    moved = AUGMENTS["translation"](x, gen(3))
    assert ((moved == 0).flatten(1).sum(1) <= 4 * 32 * 2 + 16).all()  # at most 4 rows and 4 columns shift out


def test_policy_parsing():
    assert parse_policy("translation, cutout") == ("translation", "cutout") and parse_policy("") == ()
    assert torch.equal(diff_augment(torch.ones(2, 3, 8, 8), (), gen()), torch.ones(2, 3, 8, 8))


def test_hflip_mirrors_about_half():
    x = torch.arange(32.0).expand(200, 1, 32, 32)
    flipped = hflip(x, gen(4))
    mirrored = (flipped[:, 0, 0, 0] == 31).float().mean()
    assert 0.35 < mirrored < 0.65
    assert torch.equal(flipped[flipped[:, 0, 0, 0] == 31], x[:1].flip(3).expand(int(mirrored * 200), -1, -1, -1))


# --- adaptive D, latents, R1 -----------------------------------------------------------

def test_adaptive_d_skips_updates_while_d_loss_is_low():
    _, always = run_reports({**TINY_POINTS, "d_skip_below": 1e6, "max_steps": 4, "eval_every": 4})
    _, never = run_reports({**TINY_POINTS, "d_skip_below": 1e-9, "max_steps": 4, "eval_every": 4})
    assert always[-1]["metrics"]["d_skip_rate"] == 1.0 and always[-1]["metrics"]["d_updates"] == 0
    assert never[-1]["metrics"]["d_skip_rate"] == 0.0 and never[-1]["metrics"]["d_updates"] == 4


@pytest.mark.parametrize("kind", ["normal", "uniform", "sphere"])
def test_latent_distributions(kind):
    config = TrainConfig.from_dict({**TINY_IMAGES, "latent": kind, "nz": 16})
    z = latent(config, 5000, gen(5))
    if kind == "uniform":
        assert z.min() >= -1 and z.max() <= 1 and abs(z.std().item() - 1 / math.sqrt(3)) < 0.02
    elif kind == "sphere":
        assert torch.allclose(z.norm(dim=1), torch.full((5000,), 4.0))
    else:
        assert abs(z.std().item() - 1) < 0.02


def test_r1_penalty_is_reported_and_added_to_the_d_loss():
    _, with_r1 = run_reports({**TINY_POINTS, "r1_weight": 10.0})
    _, without = run_reports(TINY_POINTS)
    first = with_r1[0]["metrics"]  # the first D update: same weights and batch, plus r1_weight / 2 * R1
    assert first["r1"] > 0 and "r1" not in without[0]["metrics"]
    assert first["loss_d"] == pytest.approx(without[0]["metrics"]["loss_d"] + 5.0 * first["r1"], rel=1e-5)


# --- conditioning -----------------------------------------------------------------------

@pytest.mark.parametrize("dataset", ["digits", "stacked-digits"])
def test_acgan_reports_its_auxiliary_accuracy_and_conditioned_runs_their_label_accuracy(dataset):
    _, reports = run_reports({**TINY_IMAGES, "dataset": dataset, "conditioning": "acgan"})
    metrics = reports[-1]["metrics"]
    for key in ("aux_acc_real", "aux_acc_fake", "cond_acc"):
        assert 0.0 <= metrics[key] <= 1.0, key


def test_acgan_auxiliary_head_learns_the_real_labels():
    values = {**TINY_IMAGES, "dataset": "digits", "conditioning": "acgan", "ngf": 8, "ndf": 8, "batch_size": 32,
              "max_steps": 60, "eval_every": 20}
    _, reports = run_reports(values)
    accuracies = [r["metrics"]["aux_acc_real"] for r in reports]
    assert accuracies[0] < 0.6 and accuracies[-1] > 0.8


def test_a_generator_that_ignores_the_label_has_chance_label_accuracy():
    run = build(TrainConfig.from_dict({**TINY_IMAGES, "dataset": "digits", "conditioning": "cgan",
                                       "eval_samples": 500}))
    with torch.no_grad():
        run.g.embed.net.weight.zero_()  # G now ignores y
    scores, _, _ = evaluate(run)
    assert scores["cond_acc"] < 0.3


@pytest.mark.parametrize("dataset, classes", [("digits", 10), ("stacked-digits", 30)])
def test_onehot_label_input_feeds_the_raw_label_with_no_embedding_layer(dataset, classes):
    values = {**TINY_IMAGES, "dataset": dataset, "conditioning": "cgan"}
    embedded, raw = build(TrainConfig.from_dict(values)), build(TrainConfig.from_dict({**values, "label_input": "onehot"}))
    assert not list(raw.g.embed.parameters()) and not list(raw.d.input_embed.parameters())
    assert list(embedded.g.embed.parameters())
    y = raw.data.sample_labeled(5, gen())[1]
    fed = raw.g.embed(y)
    assert fed.shape == (5, classes) and set(fed.unique().tolist()) <= {0.0, 1.0}
    if dataset == "digits":
        assert fed.argmax(1).tolist() == y.tolist()
    first = next(m for m in raw.d.body.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == raw.data.shape[0] + classes
    status, _ = run_reports({**values, "label_input": "onehot", "matching_aware": True})
    assert status == "finished"


def test_onehot_label_input_refuses_what_it_cannot_mean():
    with pytest.raises(ValueError, match="^label_input: 'onehot'.*conditioning is 'none'"):
        TrainConfig.from_dict({**TINY_IMAGES, "label_input": "onehot"})
    with pytest.raises(ValueError, match="^embed_dim: 5 .*onehot"):
        TrainConfig.from_dict({**TINY_IMAGES, "dataset": "digits", "conditioning": "cgan", "label_input": "onehot",
                               "embed_dim": 5})


def test_matching_aware_d_costs_an_extra_pass():
    values = {**TINY_IMAGES, "dataset": "digits", "conditioning": "cgan"}

    def d_passes(config: dict) -> int:
        run, calls = build(TrainConfig.from_dict(config)), []
        run.d.register_forward_hook(lambda module, args, out: calls.append(module))
        d_step(run)
        return len(calls)

    assert d_passes(values) == 2  # real and fake, with their own labels
    assert d_passes({**values, "matching_aware": True}) == 3  # and real with wrong labels


# --- the VAE baseline -----------------------------------------------------------------

def test_vae_baseline_learns_and_is_scored_like_a_gan():
    values = {**TINY_IMAGES, "arch": "vae", "dataset": "digits", "ngf": 8, "ndf": 8, "nz": 8, "batch_size": 32,
              "max_steps": 40, "eval_every": 10, "eval_samples": 200, "lr_g": 1e-3, "lr_d": 1e-3}
    status, reports = run_reports(values)
    assert status == "finished"
    losses = [r["metrics"]["loss_vae"] for r in reports]
    assert losses[-1] < 0.7 * losses[0]
    metrics = reports[-1]["metrics"]
    assert {"loss_recon", "loss_kl", "diversity", "score"} <= set(metrics) and "loss_d" not in metrics
    run = build(TrainConfig.from_dict(values))
    one_round(run)
    assert (run.d_updates, run.g_updates) == (1, 1)
