"""Quality and diversity metrics of a set of generated images against real images.

`METRICS` maps a name to a `Metric`: two pure functions, `fit(real, seed)`
(the real side, computed once per real set) and `score(generated, state,
seed) -> dict[str, float]`, the keys score returns (the logged names), and
the space both inputs live in: "images" ((N, C, H, W) in [0, 1]) or
"features" ((N, D), from an extractor of `gan_core.features`). Calling a
Metric, `METRICS[name](generated, real, seed)`, fits and scores in one go.

One evaluation, features extracted once per set:

    from gan_core.metrics import compute_metrics, fit_reference, score_against
    scores = compute_metrics(["ms_ssim", "ndb", "prdc", "fd", "kid"], generated, real, features="random")
    # or, with a fixed real set, fit once and score every evaluation against it:
    reference = fit_reference(["ms_ssim", "ndb", "prdc", "fd", "kid"], real, features="random")
    scores = score_against(reference, generated)

Everything runs on the CPU without grad (features may be extracted on a GPU)
and never touches the global torch RNG: `seed` fixes the random pairs and the
k-means initialisation.

Definitions
-----------
ms_ssim  (keys ms_ssim, ms_ssim_real). MS-SSIM of Wang, Simoncelli and Bovik
    (2003, "Multiscale structural similarity for image quality assessment"),
    used as a diversity score by Odena, Olah and Shlens (2017, "Conditional
    Image Synthesis with Auxiliary Classifier GANs"). Images x, y with values
    in [0, 1] (L = 1), scale j = 1..M (x_{j+1} = 2x2 average pooling of x_j);
    mu, sigma^2, sigma_xy are Gaussian-weighted local means, variances and
    covariance (window W pixels, std s, valid positions only); C1 = (0.01 L)^2,
    C2 = (0.03 L)^2:
        cs_j = mean over positions of (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)
        ssim_M = mean over positions of (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
                 * (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2), at scale M
        MS-SSIM(x, y) = ssim_M^b_M * prod_{j<M} cs_j^b_j, per channel, then
                        averaged over channels; negative cs_j or ssim_M count
                        as 0 (as in pytorch-msssim and TensorFlow), so the
                        fractional powers stay real.
    b = the first M of Wang's weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    rescaled to sum to 1. Small images: W = 7, s = 1.0 (Wang's 11-pixel,
    s = 1.5 window scaled down), and M = as many of the five scales as keep
    the coarsest side >= W: 3 at 32x32 (32, 16, 8), 4 at 64x64 (64 .. 8), 5
    from 112x112. ms_ssim is the mean over P = min(500, N) seeded random
    pairs (i, j != i) of the N generated images (P distinct images i, each
    with image (i + o_i) mod N, o_i uniform in 1..N-1); ms_ssim_real the same
    over the real images. Collapse pushes ms_ssim above ms_ssim_real (to 1 for one
    repeated image).

ndb  (keys ndb, ndb_ratio, ndb_js). Number of statistically different bins of
    Richardson and Weiss (2018, "On GANs and GMMs", NeurIPS), in pixel space
    (the flattened images), as in the paper. K-means with K bins (K = 100;
    fewer, N_r // 10, when there are fewer than 10 real samples per bin;
    scikit-learn, k-means++ seeded, one initialisation) is fitted to the N_r
    real samples; every sample goes to its nearest centre. For bin k with real
    share p_k and generated share q_k (of N_g):
        P = (p_k N_r + q_k N_g) / (N_r + N_g)
        z_k = (q_k - p_k) / sqrt(P (1 - P) (1 / N_r + 1 / N_g))
    the bin differs when |z_k| > z_{1 - alpha/2} (two-sided two-proportion
    z-test, alpha = 0.05). ndb = number of differing bins, ndb_ratio = ndb / K,
    ndb_js = JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2,
    natural log (0 .. ln 2). Even two real sets differ in about alpha * K
    bins by chance.

prdc  (keys precision, recall, density, coverage). Naeem, Oh, Uh, Choi and Yoo
    (2020, "Reliable Fidelity and Diversity Metrics for Generative Models",
    ICML); precision and recall as in Kynkaanniemi, Karras, Laine, Lehtinen
    and Aila (2019, "Improved Precision and Recall Metric for Assessing
    Generative Models", NeurIPS). Real features X_1..X_N, generated Y_1..Y_M,
    Euclidean distance, NND_k(x) = distance from x to its k-th nearest
    neighbour in its own set (k = 5), B(x, r) the open ball:
        precision = 1/M  sum_j 1[exists i: Y_j in B(X_i, NND_k(X_i))]
        recall    = 1/N  sum_i 1[exists j: X_i in B(Y_j, NND_k(Y_j))]
        density   = 1/kM sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]
        coverage  = 1/N  sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]
    (the same strict inequalities as the authors' `prdc` package).

fd  (key fd). Frechet distance between the Gaussians fitted to the real and
    generated features (Dowson and Landau 1982); with InceptionV3 features it
    is the FID of Heusel et al. (2017, "GANs Trained by a Two Time-Scale Update
    Rule Converge to a Local Nash Equilibrium", NeurIPS):
        fd = |mu_r - mu_g|^2 + tr(S_r) + tr(S_g) - 2 tr((S_r^1/2 S_g S_r^1/2)^1/2)
    mu, S the mean and unbiased covariance. The last trace equals
    tr((S_r S_g)^1/2) but is computed from two symmetric eigendecompositions in
    float64 (eigenvalues clamped at 0), with no complex square root; fd is
    clamped at 0. FD is biased at a few thousand samples, by an amount that
    depends on the model: compare FDs only at equal N, and prefer kid there.

kid  (keys kid, kid_std). Kernel Inception Distance of Binkowski, Sutherland,
    Arbel and Gretton (2018, "Demystifying MMD GANs", ICLR): the unbiased
    estimate of the squared MMD with the polynomial kernel
    k(a, b) = (a.b / D + 1)^3 between S = 100 pairs of random subsets (size m
    each, drawn without replacement; generated X, real Y):
        MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m - 1))
              + sum_{i != j} k(y_i, y_j) / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2
    kid = the mean over subsets, kid_std = their (population) std. Unbiased at
    any N (it can fall below 0 for near-identical sets). m = half the smaller
    set, at most 1,000, so the subsets differ and kid_std shows their spread.
    The subsets are drawn as torch-fidelity draws them (numpy RandomState(seed)),
    so kid equals its `kid_features_to_metric` with the same size and seed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from gan_core.features import extract
from gan_core.kid import FULL_KERNEL_MAX, KID_SUBSETS, kid, polynomial_kernel
from gan_core.ms_ssim import mean_pair_ms_ssim

NDB_BINS = 100  # K of Richardson and Weiss
NDB_MIN_PER_BIN = 10  # fewer bins when there are fewer real samples than this per bin
NDB_ALPHA = 0.05  # significance level of each bin's two-sided test
PRDC_K = 5  # nearest neighbour k of Naeem et al.
PRDC_CHUNK = 1024  # rows of a distance matrix computed at once

FitFn = Callable[[torch.Tensor, int], object]
ScoreFn = Callable[[torch.Tensor, object, int], dict[str, float]]


@dataclass(frozen=True)
class Metric:
    fit: FitFn  # fit(real, seed) -> the real side's state, computed once per real set
    score: ScoreFn  # score(generated, state, seed) -> {key: float}
    keys: tuple[str, ...]  # the keys score returns: the logged names
    space: str  # "images": (N, C, H, W) in [0, 1]; "features": (N, D) from gan_core.features

    def __call__(self, generated: torch.Tensor, real: torch.Tensor, seed: int = 0) -> dict[str, float]:
        return self.score(generated, self.fit(real, seed), seed)


METRICS: dict[str, Metric] = {}


def register(name: str, keys: Sequence[str], space: str, fit: FitFn) -> Callable[[ScoreFn], ScoreFn]:
    """Decorator on a score function: add the metric `name` (returning `keys`, in `space`) to METRICS."""
    if space not in ("images", "features"):
        raise ValueError(f"space must be 'images' or 'features', got {space!r}")

    def add(score: ScoreFn) -> ScoreFn:
        METRICS[name] = Metric(fit, score, tuple(keys), space)
        return score

    return add


# ----------------------------------------------------------------- MS-SSIM


def _fit_ms_ssim(real: torch.Tensor, seed: int) -> dict[str, float]:
    return {"ms_ssim_real": mean_pair_ms_ssim(real, seed)}


@register("ms_ssim", ("ms_ssim", "ms_ssim_real"), "images", _fit_ms_ssim)
def ms_ssim_metric(generated: torch.Tensor, state: dict[str, float], seed: int) -> dict[str, float]:
    """Mean MS-SSIM of random generated pairs, with that of random real pairs as the reference."""
    return {"ms_ssim": mean_pair_ms_ssim(generated, seed), **state}


# --------------------------------------------------------------------- NDB

def ndb_scores(real_counts: np.ndarray, generated_counts: np.ndarray, alpha: float = NDB_ALPHA) -> dict[str, float]:
    """ndb, ndb_ratio and ndb_js from the per-bin sample counts of the real and generated sets."""
    real_counts = np.asarray(real_counts, dtype=np.float64)
    generated_counts = np.asarray(generated_counts, dtype=np.float64)
    n_r, n_g = real_counts.sum(), generated_counts.sum()
    p, q = real_counts / n_r, generated_counts / n_g
    pooled = (real_counts + generated_counts) / (n_r + n_g)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_r + 1 / n_g))
    z = np.divide(q - p, se, out=np.zeros_like(se), where=se > 0)  # a bin empty in both sets does not differ
    different = int((np.abs(z) > statistics.NormalDist().inv_cdf(1 - alpha / 2)).sum())
    m = (p + q) / 2
    js = 0.5 * _kl(p, m) + 0.5 * _kl(q, m)
    return {"ndb": float(different), "ndb_ratio": different / len(p), "ndb_js": float(js)}


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / q[nz])).sum())


def _fit_ndb(real: torch.Tensor, seed: int):
    """k-means bins of the flattened real images, and the real count per bin."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x_real = real.flatten(1).numpy().astype(np.float32)
    bins = min(NDB_BINS, max(2, len(x_real) // NDB_MIN_PER_BIN))
    with threadpool_limits(limits=1):  # scikit-learn's OpenMP threads beside torch's: 5-50x slower on 2 cores
        kmeans = KMeans(n_clusters=bins, n_init=1, random_state=seed).fit(x_real)
    return kmeans, np.bincount(kmeans.labels_, minlength=bins)


@register("ndb", ("ndb", "ndb_ratio", "ndb_js"), "images", _fit_ndb)
def ndb_metric(generated: torch.Tensor, state, seed: int) -> dict[str, float]:
    """NDB in pixel space: the generated images in the real k-means bins, a z-test per bin, JS of the shares."""
    from threadpoolctl import threadpool_limits

    kmeans, real_counts = state
    with threadpool_limits(limits=1):
        labels = kmeans.predict(generated.flatten(1).numpy().astype(np.float32))
    return ndb_scores(real_counts, np.bincount(labels, minlength=len(real_counts)))


# -------------------------------------------------------------------- PRDC

def nearest_neighbour_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of x to its k-th nearest other row: (N,)."""
    if x.shape[0] <= k:
        raise ValueError(f"k-th nearest neighbours need more than k = {k} samples, got {x.shape[0]}")
    return torch.cat([torch.cdist(rows, x).kthvalue(k + 1, dim=1).values for rows in x.split(PRDC_CHUNK)])


def prdc(real: torch.Tensor, generated: torch.Tensor, k: int = PRDC_K,
         real_radii: torch.Tensor | None = None) -> dict[str, float]:
    """Precision, recall, density and coverage of (M, D) generated against (N, D) real features.

    real_radii: the real k-NN radii when already computed (nearest_neighbour_radii(real, k))."""
    real_radii = nearest_neighbour_radii(real, k) if real_radii is None else real_radii
    generated_radii = nearest_neighbour_radii(generated, k)
    inside = torch.zeros(generated.shape[0], dtype=torch.long)  # real balls holding each generated sample
    covered, recalled = [], []
    for rows, radii in zip(real.split(PRDC_CHUNK), real_radii.split(PRDC_CHUNK)):
        dist = torch.cdist(rows, generated)  # (chunk, M)
        in_ball = dist < radii[:, None]
        inside += in_ball.sum(0)
        covered.append(in_ball.any(1))
        recalled.append((dist < generated_radii[None, :]).any(1))
    return {
        "precision": float((inside > 0).double().mean()),
        "recall": float(torch.cat(recalled).double().mean()),
        "density": float(inside.sum()) / (k * generated.shape[0]),
        "coverage": float(torch.cat(covered).double().mean()),
    }


def _fit_prdc(real: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return real, nearest_neighbour_radii(real, PRDC_K)


@register("prdc", ("precision", "recall", "density", "coverage"), "features", _fit_prdc)
def prdc_metric(generated: torch.Tensor, state, seed: int) -> dict[str, float]:
    """Precision, recall, density, coverage (k = 5) in the feature space."""
    real, real_radii = state
    return prdc(real, generated, PRDC_K, real_radii)


# ---------------------------------------------------------------------- FD

def gaussian_fit(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of the rows of x, in float64."""
    x = x.to(torch.float64)
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """Frechet distance between N(mu1, cov1) and N(mu2, cov2), computed in float64; >= 0."""
    mu1, cov1, mu2, cov2 = (t.to(torch.float64) for t in (mu1, cov1, mu2, cov2))
    values, vectors = torch.linalg.eigh(cov1)
    root1 = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    middle = root1 @ cov2 @ root1
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * trace_root
    return max(0.0, float(distance))


def _fit_fd(real: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The real Gaussian and the square root of its covariance, computed once per reference."""
    mu, cov = gaussian_fit(real)
    values, vectors = torch.linalg.eigh(cov)
    return mu, cov, (vectors * values.clamp(min=0).sqrt()) @ vectors.T


@register("fd", ("fd",), "features", _fit_fd)
def fd_metric(generated: torch.Tensor, state, seed: int) -> dict[str, float]:
    """Frechet distance between Gaussians fitted to the real and generated features.

    Same value as `frechet_distance`; with M generated samples in D > M dimensions
    the trace term comes from the M x M matrix X S_r X^T / (M - 1) (X the centred
    generated features), which has the same nonzero eigenvalues as
    S_r^1/2 S_g S_r^1/2 and costs far less to decompose."""
    mu_r, cov_r, root_r = state
    x = generated.to(torch.float64)
    mu_g = x.mean(0)
    centred = x - mu_g
    m = x.shape[0]
    if m <= x.shape[1]:
        side = centred @ root_r
        middle = side @ side.T / max(m - 1, 1)
        cov_g_trace = centred.square().sum() / max(m - 1, 1)
    else:
        cov_g = torch.cov(x.T).reshape(x.shape[1], x.shape[1])
        middle, cov_g_trace = root_r @ cov_g @ root_r, cov_g.trace()
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mu_r - mu_g).square().sum() + cov_r.trace() + cov_g_trace - 2 * trace_root
    return {"fd": max(0.0, float(distance))}


# --------------------------------------------------------------------- KID

def _fit_kid(real: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The real features and their kernel matrix (where it is kept whole), computed once per reference."""
    return real, polynomial_kernel(real, real) if len(real) <= FULL_KERNEL_MAX else None


@register("kid", ("kid", "kid_std"), "features", _fit_kid)
def kid_metric(generated: torch.Tensor, state, seed: int) -> dict[str, float]:
    """KID: mean and std over subsets of the unbiased polynomial-kernel MMD^2 (see gan_core.kid)."""
    real, k_real = state
    return kid(generated, real, KID_SUBSETS, seed=seed, k_real=k_real)


# ------------------------------------------------------------- one evaluation

@dataclass(frozen=True)
class Reference:
    """The real side of some metrics, fitted once to a real set and reused by every evaluation."""
    names: tuple[str, ...]  # the metrics it serves, in order
    features: str | Callable  # the feature space of the "features" metrics: a gan_core.features.FEATURES name, or an extractor
    seed: int  # pairs and k-means initialisation
    states: dict  # metric name -> its fit(real, seed)


def _as_images(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() != 4:
        raise ValueError(f"{name} must be (N, C, H, W) images in [0, 1], got shape {tuple(x.shape)}")
    return x.detach().to("cpu", torch.float32).clamp(0.0, 1.0)


def fit_reference(names: Sequence[str], real: torch.Tensor, features: str | Callable = "random", seed: int = 0,
                  device: str | torch.device = "cpu") -> Reference:
    """The real-side state of the metrics `names` (features extracted once, on device); ValueError for unknown names."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"metrics must be among {sorted(METRICS)}, got {unknown}")
    images = _as_images(real, "real")
    needs_features = any(METRICS[n].space == "features" for n in names)
    feats = extract(features, images, device) if needs_features else None
    states = {n: METRICS[n].fit(feats if METRICS[n].space == "features" else images, seed) for n in names}
    return Reference(tuple(names), features, seed, states)


def score_against(reference: Reference, generated: torch.Tensor,
                  device: str | torch.device = "cpu") -> dict[str, float]:
    """Every metric of the reference for the generated images, their keys merged into one dict."""
    images = _as_images(generated, "generated")
    needs_features = any(METRICS[n].space == "features" for n in reference.names)
    feats = extract(reference.features, images, device) if needs_features else None
    scores: dict[str, float] = {}
    for name in reference.names:
        metric = METRICS[name]
        inputs = feats if metric.space == "features" else images
        scores.update(metric.score(inputs, reference.states[name], reference.seed))
    return scores


def compute_metrics(names: Sequence[str], generated: torch.Tensor, real: torch.Tensor, features: str = "random",
                    seed: int = 0, device: str | torch.device = "cpu") -> dict[str, float]:
    """The metrics `names` of generated against real images in one pass, features extracted once per set.

    Equal to score_against(fit_reference(names, real, ...), generated): with a fixed real set, fit the
    reference once and call score_against at every evaluation instead."""
    return score_against(fit_reference(names, real, features, seed, device), generated, device)
