"""Tests of gan_core.mode_scores: mixture and digit mode scores, relative to real data."""

import math

import pytest
import torch

from gan_core import classifiers, mode_scores
from gan_core.datasets import grid_centers, load_dataset, ring_centers


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------ 2-D mixtures

@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_true_mixture_covers_every_mode(name):
    ds = load_dataset(name)
    scores = ds.score_samples(ds.sample(2000, gen(11)))
    assert scores["modes_covered"] == ds.n_modes
    assert scores["hq_ratio"] >= 0.97
    assert scores["diversity"] == 1.0 and scores["score"] >= 0.97
    assert scores["reverse_kl"] < 0.05


@pytest.mark.parametrize("name, center", [("ring8", ring_centers()[3]), ("grid25", grid_centers()[7])])
def test_single_mode_is_collapse(name, center):
    ds = load_dataset(name)
    one_mode = center + 0.001 * torch.randn(500, 2, generator=gen(1))
    scores = ds.score_samples(one_mode)
    assert scores["modes_covered"] == 1 and scores["hq_ratio"] == 1.0
    assert scores["reverse_kl"] == pytest.approx(math.log(ds.n_modes))
    assert scores["score"] <= 1 / ds.n_modes + 1e-9


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_uniform_noise_scores_low(name):
    ds = load_dataset(name)
    noise = torch.rand(2000, 2, generator=gen(2)) * 12 - 6
    scores = ds.score_samples(noise)
    assert scores["hq_ratio"] < 0.05 and scores["score"] < 0.05


def test_mixture_primitives():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    points = torch.tensor([[0.0, 0.29], [0.0, 0.31], [9.0, 0.0]])
    nearest, hq = mode_scores.mixture_assign(points, centers, 0.1)
    assert nearest.tolist() == [0, 0, 1] and hq.tolist() == [True, False, False]
    scores = mode_scores.mixture_scores(points, centers, 0.1)
    assert scores == {"modes_covered": 1.0, "hq_ratio": 1 / 3, "reverse_kl": pytest.approx(math.log(2)),
                      "mode_counts": [1, 0]}  # HQ samples per centre


def test_no_high_quality_sample_gets_the_worst_kl():
    scores = mode_scores.coverage_scores(torch.zeros(25, dtype=torch.long), 100)
    assert scores == {"modes_covered": 0.0, "hq_ratio": 0.0, "reverse_kl": pytest.approx(math.log(25)),
                      "mode_counts": [0] * 25}


def test_relative_mode_scores_clip_and_handle_a_zero_reference():
    raw = {"modes_covered": 10.0, "hq_ratio": 0.5, "reverse_kl": 0.0}
    scores = mode_scores.relative_mode_scores(raw, {"modes_covered": 5.0, "hq_ratio": 1.0, "reverse_kl": 0.0})
    assert scores == {**raw, "diversity": 1.0, "quality": 0.5, "score": 0.5}
    zero = {"modes_covered": 0.0, "hq_ratio": 0.0, "reverse_kl": 0.0}
    assert mode_scores.relative_mode_scores(raw, zero)["score"] == 1.0
    assert mode_scores.relative_mode_scores(zero, zero)["score"] == 1.0  # real data shows none: nothing to fall short of


# ---------------------------------------------------------- stacked digits

def test_digit_triples_read_each_channel():
    images, labels = classifiers.digit_images("held_out", 32)
    idx = torch.randint(0, len(labels), (300, 3), generator=gen(4))
    triples, _ = mode_scores.digit_triples(images[idx])
    expected = labels[idx[:, 0]] * 100 + labels[idx[:, 1]] * 10 + labels[idx[:, 2]]
    assert (triples == expected).float().mean() >= 0.9


@pytest.mark.parametrize("size", [32, 64])
def test_real_stacked_digits_score_high(size):
    ds = load_dataset("stacked-digits", size)
    scores = ds.score_samples(ds.sample(2000, gen(21)))
    assert scores["diversity"] >= 0.9 and scores["hq_ratio"] >= 0.7 and scores["score"] >= 0.85
    assert scores["confidence"] >= 0.85 and scores["quality"] >= 0.95
    assert scores["modes_covered"] >= 800


def test_collapsed_stacked_digits_score_low():
    ds = load_dataset("stacked-digits")
    scores = ds.score_samples(ds.sample(1, gen(3)).expand(2000, -1, -1, -1))
    assert scores["modes_covered"] == 1 and scores["score"] < 0.01
    assert scores["reverse_kl"] == pytest.approx(math.log(1000))


@pytest.mark.parametrize("name", ["stacked-digits", "digits", "ring8"])
def test_the_mode_histograms_are_what_the_scores_count(name):
    ds = load_dataset(name)
    real = ds.sample(1000, gen(31))
    half = real[:500].repeat(2, *([1] * (real.dim() - 1)))  # the same N, half the distinct samples
    scores, fewer = ds.score_samples(real), ds.score_samples(half)
    counts, reference = scores["mode_counts"], scores["mode_counts_real"]
    assert len(counts) == len(reference) == ds.n_modes and fewer["mode_counts_real"] == reference
    if name == "digits":  # every sample is counted; modes_covered needs a confident one
        assert sum(counts) == 1000 and scores["effective_modes"] == pytest.approx(
            math.exp(-sum(c / 1000 * math.log(c / 1000) for c in counts if c)))
    else:
        assert sum(c > 0 for c in counts) == scores["modes_covered"]
    assert sum(c > 0 for c in fewer["mode_counts"]) <= sum(c > 0 for c in counts)


def test_noise_images_score_low():
    ds = load_dataset("stacked-digits")
    scores = ds.score_samples(torch.rand(2000, 3, 32, 32, generator=gen(6)))
    assert scores["hq_ratio"] < 0.05 and scores["score"] < 0.05
    assert scores["confidence"] < 0.1


def test_confidence_is_the_soft_form_of_hq_ratio():
    """Digits blended with other digits grow ambiguous: quality falls step by step and
    still tells 40% blends apart when hq_ratio has dropped to nearly zero."""
    ds = load_dataset("stacked-digits")
    real, other = ds.sample(1000, gen(9)), ds.sample(1000, gen(10))
    scores = [ds.score_samples((1 - a) * real + a * other) for a in (0.0, 0.2, 0.4)]
    quality = [s["quality"] for s in scores]
    assert quality[0] > 0.95 and quality[0] > quality[1] + 0.1 > quality[2] + 0.2
    assert scores[2]["hq_ratio"] < 0.05 and quality[2] > 0.25
    assert all(0 <= s["confidence"] <= 1 for s in scores)


def test_scoring_leaves_the_global_rng_alone():
    ds = load_dataset("stacked-digits")
    state = torch.get_rng_state()
    ds.score_samples(ds.sample(37, gen(8)))
    assert torch.equal(torch.get_rng_state(), state)
