"""Every registered metric returns its declared keys as finite floats; each metric against published
references and closed forms (the authors' prdc, across the chunk boundary too; Frechet distance of
Gaussians, MS-SSIM identities and pytorch-msssim, NDB on real halves and collapse, KID against
torch-fidelity)."""

import math

import numpy as np
import prdc as prdc_reference
import pytest
import pytorch_msssim
import scipy.linalg
import torch

from gan_core import kid as kid_lib
from gan_core import metrics
from gan_core.datasets import load_dataset
from gan_core.metrics import METRICS, compute_metrics, fit_reference, frechet_distance, gaussian_fit, score_against
from gan_core.ms_ssim import MS_SSIM_WEIGHTS, ms_ssim, ms_ssim_scales


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def stacked():
    """Two independent real sets of 64 stacked digits at 32x32."""
    ds = load_dataset("stacked-digits", 32)
    return ds.sample(64, gen(1)), ds.sample(64, gen(2))


# ------------------------------------------------------------ every metric

@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_returns_its_declared_keys_as_finite_floats(name, stacked):
    generated, real = stacked
    rng = torch.get_rng_state()
    scores = compute_metrics([name], generated, real, features="random", seed=3)
    assert torch.equal(torch.get_rng_state(), rng)
    assert tuple(scores) == METRICS[name].keys
    assert all(type(v) is float and math.isfinite(v) for v in scores.values())
    assert compute_metrics([name], generated, real, features="random", seed=3) == scores


@pytest.mark.parametrize("name", sorted(METRICS))
def test_metric_call_fits_and_scores(name, stacked):
    generated, real = stacked
    metric = METRICS[name]
    if metric.space == "features":
        generated, real = torch.randn(40, 8, generator=gen(4)), torch.randn(40, 8, generator=gen(5))
    assert metric(generated, real, 2) == metric.score(generated, metric.fit(real, 2), 2)


def test_compute_metrics_merges_every_key_and_equals_a_fitted_reference(stacked):
    generated, real = stacked
    names = sorted(METRICS)
    scores = compute_metrics(names, generated, real)
    assert set(scores) == {key for n in names for key in METRICS[n].keys}
    assert score_against(fit_reference(names, real), generated) == scores


def test_compute_metrics_refuses_unknown_names_and_points(stacked):
    generated, real = stacked
    with pytest.raises(ValueError, match="metrics must be among"):
        compute_metrics(["fid"], generated, real)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        compute_metrics(["fd"], torch.randn(64, 2), torch.randn(64, 2))


# -------------------------------------------------------------------- PRDC

def test_prdc_equals_the_authors_package_across_the_chunk_boundary():
    """More rows than one distance chunk on both sides (a full chunk and a ragged one), so the
    chunked radii and ball counts must add up exactly to the authors' whole-matrix computation."""
    rs = np.random.RandomState(1)
    n_real, n_fake = metrics.PRDC_CHUNK + 301, metrics.PRDC_CHUNK + 77
    real, fake = rs.randn(n_real, 12), 1.2 * rs.randn(n_fake, 12) + 0.3
    expected = prdc_reference.compute_prdc(real, fake, nearest_k=5)
    scores = metrics.prdc(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    assert scores == {key: pytest.approx(float(value), abs=1e-12) for key, value in expected.items()}
    assert 0.05 < scores["precision"] < 0.95 and 0.05 < scores["coverage"] < 0.95  # not a trivial all-or-nothing case


def test_prdc_equals_the_authors_package():
    rs = np.random.RandomState(0)
    real, fake = rs.randn(300, 16), 1.3 * rs.randn(250, 16) + 0.2
    expected = prdc_reference.compute_prdc(real, fake, nearest_k=5)
    scores = metrics.prdc(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    assert scores == {key: pytest.approx(float(value), abs=1e-12) for key, value in expected.items()}


def test_prdc_of_a_set_against_itself_and_a_collapse():
    x = torch.randn(200, 6, generator=gen(1))
    assert metrics.prdc(x, x.clone()) == {"precision": 1.0, "recall": 1.0, "density": pytest.approx(1.0, abs=0.3),
                                          "coverage": 1.0}
    collapsed = metrics.prdc(x, x[:1].expand(200, -1).clone())
    assert collapsed["recall"] == 0.0
    assert collapsed["coverage"] < 0.1  # only the real balls around that one point: about k / N of them


# ---------------------------------------------------------------------- FD

def random_covariance(d, seed):
    a = torch.randn(d, d, generator=gen(seed), dtype=torch.float64)
    return a @ a.T / d + 0.05 * torch.eye(d, dtype=torch.float64)


def test_fd_closed_form_for_diagonal_covariances():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, -1.0, 2.0])
    var1, var2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    expected = float((mu1 - mu2).square().sum() + (var1.sqrt() - var2.sqrt()).square().sum())  # 5 + 4 + 1 + 0
    assert expected == pytest.approx(10.0)
    assert frechet_distance(mu1, torch.diag(var1), mu2, torch.diag(var2)) == pytest.approx(expected, rel=1e-12)


def test_fd_general_covariances_match_the_sqrtm_formula():
    d = 12
    mu1 = torch.randn(d, generator=gen(1), dtype=torch.float64)
    mu2 = torch.randn(d, generator=gen(2), dtype=torch.float64)
    cov1, cov2 = random_covariance(d, 3), random_covariance(d, 4)
    root = scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy()).real
    expected = float((mu1 - mu2).square().sum() + cov1.trace() + cov2.trace()) - 2 * float(np.trace(root))
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, cov1, mu1, cov1) == pytest.approx(0.0, abs=1e-9)
    shift = torch.full((d,), 0.5, dtype=torch.float64)
    assert frechet_distance(mu1, cov1, mu1 + shift, cov1) == pytest.approx(d * 0.25, rel=1e-6)


def test_fd_of_samples_approaches_the_closed_form():
    d, n = 4, 40_000
    cov1, cov2 = random_covariance(d, 5), random_covariance(d, 6)
    mu1, mu2 = torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
    x = mu1 + torch.randn(n, d, generator=gen(7), dtype=torch.float64) @ torch.linalg.cholesky(cov1).T
    y = mu2 + torch.randn(n, d, generator=gen(8), dtype=torch.float64) @ torch.linalg.cholesky(cov2).T
    expected = frechet_distance(mu1, cov1, mu2, cov2)
    assert METRICS["fd"](y.float(), x.float())["fd"] == pytest.approx(expected, rel=0.03)


# ----------------------------------------------------------------- MS-SSIM

@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size, scales", [(32, 3), (64, 4)])
def test_ms_ssim_of_an_image_with_itself_is_one(channels, size, scales):
    assert ms_ssim_scales(size) == scales
    x = torch.rand(4, channels, size, size, generator=gen(size))
    assert torch.allclose(ms_ssim(x, x.clone()), torch.ones(4), atol=1e-6)
    noise = ms_ssim(x, torch.rand(4, channels, size, size, generator=gen(9)))
    assert noise.max() < 0.2 and noise.mean() < 0.1


def test_ms_ssim_equals_pytorch_msssim():
    """Wang's 11-pixel window and five scales, then three scales with the weights rescaled to sum to 1."""
    x = torch.rand(2, 3, 176, 176, generator=gen(1))
    y = (x + 0.2 * torch.randn(2, 3, 176, 176, generator=gen(2))).clamp(0, 1)
    ours = ms_ssim(x, y, window=11, sigma=1.5)
    reference = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    assert torch.allclose(ours, reference, atol=1e-4)
    assert 0.5 < float(ours.mean()) < 0.99
    three = MS_SSIM_WEIGHTS[:3]
    rescaled = [w / sum(three) for w in three]
    ours = ms_ssim(x, y, window=11, sigma=1.5, weights=three)
    reference = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False, weights=rescaled)
    assert torch.allclose(ours, reference, atol=1e-5)


def test_ms_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match="at least"):
        ms_ssim(torch.rand(2, 1, 6, 6), torch.rand(2, 1, 6, 6))


@pytest.mark.parametrize("size", [32, 64])
def test_ms_ssim_of_a_collapsed_set_is_above_real_pairs(size):
    real = load_dataset("stacked-digits", size).sample(200, gen(1))
    collapsed = real[:1].expand(200, -1, -1, -1)
    scores = METRICS["ms_ssim"](collapsed, real, 0)
    assert scores["ms_ssim"] == pytest.approx(1.0, abs=1e-6)
    assert scores["ms_ssim_real"] < 0.5
    diverse = METRICS["ms_ssim"](load_dataset("stacked-digits", size).sample(200, gen(2)), real, 0)
    assert abs(diverse["ms_ssim"] - diverse["ms_ssim_real"]) < 0.05


# --------------------------------------------------------------------- NDB

def test_ndb_scores_by_hand():
    # p = (0.5, 0.5), q = (0.8, 0.2), n = 100 each: pooled 0.65, se = sqrt(0.65 * 0.35 * 0.02), |z| = 4.45
    scores = metrics.ndb_scores(np.array([50, 50]), np.array([80, 20]))
    m = np.array([0.65, 0.35])
    js = 0.5 * sum(p * math.log(p / mm) for p, mm in zip((0.5, 0.5), m)) + \
        0.5 * sum(q * math.log(q / mm) for q, mm in zip((0.8, 0.2), m))
    assert scores == {"ndb": 2.0, "ndb_ratio": 1.0, "ndb_js": pytest.approx(js)}
    # |z| = 1.41 < 1.96: not different; a bin empty in both sets is not different either
    assert metrics.ndb_scores(np.array([50, 50, 0]), np.array([60, 40, 0]))["ndb"] == 0.0
    assert metrics.ndb_scores(np.array([30, 70]), np.array([30, 70])) == {"ndb": 0.0, "ndb_ratio": 0.0, "ndb_js": 0.0}


def test_ndb_finds_few_bins_between_real_halves_and_all_against_a_collapse():
    """K = 100 bins at alpha = 0.05: about 5 bins differ by chance between two real sets."""
    ds = load_dataset("digits", 32)
    real_a, real_b = ds.sample(1500, gen(1)), ds.sample(1500, gen(2))
    reference = fit_reference(["ndb"], real_a, seed=0)
    halves = score_against(reference, real_b)
    assert halves["ndb"] <= 10 and halves["ndb_js"] < 0.05
    collapsed = score_against(reference, real_b[:1].expand(1500, -1, -1, -1))
    assert collapsed["ndb"] >= 90 and collapsed["ndb_ratio"] >= 0.9 and collapsed["ndb_js"] > 0.5


def test_ndb_uses_fewer_bins_for_few_real_samples(stacked):
    generated, real = stacked
    kmeans, counts = METRICS["ndb"].fit(real, 0)
    assert len(counts) == 64 // metrics.NDB_MIN_PER_BIN and counts.sum() == 64


@pytest.mark.parametrize("m, d", [(50, 20), (20, 50)])
def test_fd_metric_fast_path_equals_the_formula(m, d):
    gen = torch.Generator().manual_seed(m)
    real, fake = torch.randn(300, d, generator=gen), torch.randn(m, d, generator=gen) * 1.5 + 0.3
    state = METRICS["fd"].fit(real, 0)
    expected = frechet_distance(*gaussian_fit(real), *gaussian_fit(fake))
    assert METRICS["fd"].score(fake, state, 0)["fd"] == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------- KID

@pytest.mark.parametrize("full_kernels", [True, False])
def test_kid_equals_torch_fidelity(full_kernels, monkeypatch):
    """Same features (float64, so both sides compute in float64), subsets, kernel and seed as
    torch-fidelity's kid_features_to_metric; both of our paths (full kernel matrices, per subset)."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    if not full_kernels:
        monkeypatch.setattr(kid_lib, "FULL_KERNEL_MAX", 10)
    g = gen(11)
    real = torch.randn(300, 24, generator=g, dtype=torch.float64)
    fake = 1.2 * torch.randn(260, 24, generator=g, dtype=torch.float64) + 0.1
    ours = kid_lib.kid(fake, real, subsets=30, size=100, seed=5)
    reference = kid_features_to_metric(fake, real, kid_subsets=30, kid_subset_size=100, rng_seed=5, verbose=False)
    assert ours["kid"] == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-12)
    assert ours["kid_std"] == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-9)


def test_the_kid_metric_is_torch_fidelity_kid_at_half_the_smaller_set():
    from torch_fidelity.metric_kid import kid_features_to_metric

    g = gen(12)
    real, fake = torch.randn(200, 16, generator=g), torch.randn(150, 16, generator=g) + 0.3
    scores = METRICS["kid"](fake, real, 4)
    reference = kid_features_to_metric(fake.double(), real.double(), kid_subsets=kid_lib.KID_SUBSETS,
                                       kid_subset_size=75, rng_seed=4, verbose=False)
    assert scores == {"kid": pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-9),
                      "kid_std": pytest.approx(reference["kernel_inception_distance_std"], rel=1e-9)}
    assert kid_lib.subset_size(5000, 3000) == 1000 and kid_lib.subset_size(1000, 1000) == 500


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    g = gen(13)
    real = torch.randn(1000, 8, generator=g)
    same = METRICS["kid"](torch.randn(1000, 8, generator=g), real, 0)
    shifted = METRICS["kid"](torch.randn(1000, 8, generator=g) + 0.5, real, 0)
    assert abs(same["kid"]) < 3 * same["kid_std"] + 1e-3  # unbiased: centred on 0, may be negative
    assert shifted["kid"] > 20 * max(same["kid_std"], abs(same["kid"]))
    with pytest.raises(ValueError, match="at least 4 samples"):
        kid_lib.kid(real[:3], real)
