"""Every dataset is scored: diversity, quality, score and collapsed on each,
a collapsed generator caught everywhere, and the metric and feature knobs
(their bad values: tests/gan_core/test_config.py)."""

import dataclasses

import pytest
import torch
from torch import nn

from gan_core import evaluation
from gan_core.config import TrainConfig
from gan_core.datasets import DATASETS, load_dataset
from gan_core.train import build, evaluate

from conftest import TINY_IMAGES, TINY_POINTS

SCORES = ("diversity", "quality", "score", "collapsed")


def tiny(name: str, **changes) -> dict:
    kind = load_dataset(name).kind
    return {**(TINY_POINTS if kind == "points" else TINY_IMAGES), "dataset": name, "eval_samples": 64, **changes}


class Constant(nn.Module):
    """A generator that ignores z (and labels): one sample, repeated."""

    def __init__(self, sample: torch.Tensor):
        super().__init__()
        self.sample = sample

    def forward(self, z, y=None):
        return self.sample.expand(z.shape[0], *self.sample.shape)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_logs_diversity_quality_score_and_collapsed(name):
    run = build(TrainConfig.from_dict(tiny(name)))
    scores, image, modes = evaluate(run)
    for key in SCORES:
        assert 0.0 <= scores[key] <= 1.0, key
    assert scores["score"] == pytest.approx(scores["diversity"] * scores["quality"])
    assert image.ndim == 3
    assert all(isinstance(v, float) for v in scores.values())  # every score is a metric; histograms go apart
    if run.data.score_samples is None:
        assert modes is None
    else:  # one count per mode, for the samples and the real set of the same N
        assert len(modes["counts"]) == len(modes["real"]) == run.data.n_modes
        assert sum(c > 0 for c in modes["counts"]) == scores["modes_covered"] or name in ("digits", "mnist")
        assert 0 < sum(modes["real"]) <= run.config.eval_samples


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_a_generator_that_ignores_z_is_collapsed_on_every_dataset(name):
    run = build(TrainConfig.from_dict(tiny(name, eval_samples=200)))
    one = run.data.sample(1, torch.Generator().manual_seed(3))[0].to(run.device)
    run.g = Constant(one * 2 - 1 if run.data.kind == "images" else one)  # a real sample, in model space
    first, _, modes = evaluate(run)
    second, _, _ = evaluate(run)
    assert first["diversity"] < run.config.collapse_threshold, first
    assert (first["collapsed"], second["collapsed"]) == (0.0, 1.0)
    if modes is not None:  # the histogram shows the collapse: one mode holds (nearly) every sample
        assert max(modes["counts"]) >= 0.9 * sum(modes["counts"]) and max(modes["real"]) < 0.5 * sum(modes["real"])


def no_modes(name: str):
    """A dataset scored as if its modes were unknown (as cifar10, celeba and folders are)."""
    return dataclasses.replace(load_dataset(name), score_samples=None, name=f"{name}-unknown-modes")


def scores_of(data, samples, metrics="auto", features="random"):
    evaluator = evaluation.make_evaluator(data, samples.shape[0], metrics, features, (data.name,),
                                          torch.device("cpu"))
    return evaluation.evaluate_samples(evaluator, data, samples)


def test_without_known_modes_real_data_scores_high_and_collapse_or_noise_low():
    data = no_modes("stacked-digits")
    real = data.sample(500, torch.Generator().manual_seed(7))
    fresh = scores_of(data, real)
    assert fresh["diversity"] > 0.8 and fresh["quality"] > 0.8 and fresh["score"] > 0.7
    repeated = scores_of(data, real[:1].expand(500, -1, -1, -1))
    assert repeated["diversity"] < 0.05 and repeated["ms_ssim"] > 0.99
    few = scores_of(data, real[:5].repeat(100, 1, 1, 1))  # five modes of a thousand
    assert few["diversity"] < 0.2 < fresh["diversity"]
    noise = scores_of(data, torch.rand(500, 3, 32, 32, generator=torch.Generator().manual_seed(8)))
    assert noise["quality"] < 0.1 and noise["score"] < 0.05
    assert {"precision", "recall", "density", "coverage", "ms_ssim", "ms_ssim_real", "fd"} <= set(fresh)


def test_the_metrics_knob_adds_metrics_where_modes_are_known():
    data = load_dataset("digits")
    samples = data.sample(200, torch.Generator().manual_seed(9))
    plain = scores_of(data, samples, metrics="auto", features="auto")
    extra = scores_of(data, samples, metrics="ndb,fd", features="auto")
    assert "fd" not in plain and {"ndb", "ndb_js", "fd"} <= set(extra)
    assert extra["score"] == plain["score"]  # known modes: the score stays the mode score
    unknown = scores_of(no_modes("digits"), samples, metrics="none")
    assert "coverage" in unknown and "fd" not in unknown  # the score's own metrics always run


def test_classifier_features_are_the_datasets_own():
    assert load_dataset("digits").features is not None and load_dataset("cifar10").features is None
    assert evaluation.feature_space(load_dataset("cifar10"), "auto") == "random"


@pytest.mark.parametrize("name", ["stacked-digits", "digits", "cifar10"])
def test_an_untrained_generator_is_poor_not_collapsed(name):
    """At initialisation G's samples are alike (low diversity) but look like nothing (low
    quality): a trial must not be stopped as collapsed before it has learned anything."""
    run = build(TrainConfig.from_dict(tiny(name, eval_samples=200, ngf=16, ndf=16, nz=16)))
    first, _, _ = evaluate(run)
    second, _, _ = evaluate(run)
    assert first["quality"] < run.config.collapse_quality
    assert (first["collapsed"], second["collapsed"]) == (0.0, 0.0)
    assert second["diversity"] < run.config.collapse_threshold  # alike samples: low diversity ...
    ungated = build(TrainConfig.from_dict(tiny(name, eval_samples=200, collapse_quality=0.0)))
    evaluate(ungated)
    assert evaluate(ungated)[0]["collapsed"] == 1.0  # ... which without the quality gate reads as collapse


def test_a_run_setting_new_diversity_highs_is_escaping_not_collapsing():
    from gan_core.train import COLLAPSE_WINDOW, collapse_like

    def streaks(diversities):
        run = build(TrainConfig.from_dict(tiny("digits")))
        out = []
        for d in diversities:
            run.low_streak = run.low_streak + 1 if collapse_like(run, {"diversity": d, "quality": 0.2}) else 0
            run.recent_diversity = [*run.recent_diversity, d][-COLLAPSE_WINDOW:]
            out.append(run.low_streak)
        return out

    assert streaks([0.06, 0.078, 0.105, 0.239]) == [1, 0, 0, 0]  # a trial climbing out of its early collapse
    assert streaks([0.05, 0.02, 0.04, 0.03, 0.08, 0.06]) == [1, 2, 3, 4, 0, 1]  # stuck, one short-lived high
