"""Kernel Inception Distance (Binkowski, Sutherland, Arbel and Gretton 2018,
"Demystifying MMD GANs", ICLR): the math behind the `kid` metric of
`gan_core.metrics` (definition there), equal to torch-fidelity's
`kid_features_to_metric` given the same subsets, kernel and seed.

Every subset's MMD needs sums over blocks of three kernel matrices. Instead
of recomputing the kernel per subset, the full matrices k(X, X), k(Y, Y) and
k(X, Y) are computed once (float64) and each subset's block sums read off
them with its 0/1 indicator vector w: sum_{i,j in S} K_ij = w^T K w. That
costs N^2 floats of memory per matrix (32 MB at N = 2,000) instead of
`subsets` times as many kernel evaluations; above FULL_KERNEL_MAX samples in
a set each subset's kernels are computed on their own instead.
"""

from __future__ import annotations

import numpy as np
import torch

KID_SUBSETS = 100  # subsets averaged (torch-fidelity's default)
KID_SUBSET_SIZE = 1000  # largest subset (torch-fidelity's default; Binkowski et al. use 1,000)
KID_DEGREE, KID_COEF0 = 3, 1.0  # the polynomial kernel (x.y / D + 1)^3 of Binkowski et al.
FULL_KERNEL_MAX = 4096  # largest set whose full kernel matrix is kept (8 N^2 bytes: 134 MB)


def subset_size(n_generated: int, n_real: int, largest: int = KID_SUBSET_SIZE) -> int:
    """Half the smaller set, at most `largest`: subsets that differ, so their spread means something
    (a subset as large as its set is the whole set every time)."""
    size = min(largest, min(n_generated, n_real) // 2)
    if size < 2:
        raise ValueError(f"KID needs at least 4 samples in each set, got {n_generated} generated and {n_real} real")
    return size


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x.y / D + 1)^3 for every row pair, in float64: (N, M)."""
    x, y = x.to(torch.float64), y.to(torch.float64)
    return (x @ y.T / x.shape[1] + KID_COEF0) ** KID_DEGREE


def draw_subsets(n_first: int, n_second: int, size: int, subsets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(subsets, size) row indices into each set, drawn without replacement as torch-fidelity draws them:
    one RandomState(seed), the first set's subset then the second's, subset after subset."""
    rng = np.random.RandomState(seed)
    first, second = [], []
    for _ in range(subsets):
        first.append(rng.choice(n_first, size, replace=False))
        second.append(rng.choice(n_second, size, replace=False))
    return np.stack(first), np.stack(second)


def _indicators(indices: np.ndarray, n: int) -> torch.Tensor:
    w = torch.zeros(indices.shape[0], n, dtype=torch.float64)
    w.scatter_(1, torch.from_numpy(indices).long(), 1.0)
    return w


def _quadratic(w: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """w_s^T K v_s for every subset s: (S,)."""
    return ((w @ k) * v).sum(1)


def _mmd2_full(generated, real, k_real, first, second, size) -> torch.Tensor:
    """Unbiased MMD^2 of every subset pair, read off the full kernel matrices: (S,)."""
    k_xx, k_xy = polynomial_kernel(generated, generated), polynomial_kernel(generated, real)
    k_yy = polynomial_kernel(real, real) if k_real is None else k_real
    wx, wy = _indicators(first, len(generated)), _indicators(second, len(real))
    within_x = _quadratic(wx, k_xx, wx) - wx @ k_xx.diagonal()  # off-diagonal sums
    within_y = _quadratic(wy, k_yy, wy) - wy @ k_yy.diagonal()
    across = _quadratic(wx, k_xy, wy)
    return (within_x + within_y) / (size * (size - 1)) - 2 * across / (size * size)


def _mmd2_subset(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 of one pair of subsets of equal size."""
    m = len(x)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    within = k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()
    return within / (m * (m - 1)) - 2 * k_xy.sum() / (m * m)


def kid(generated: torch.Tensor, real: torch.Tensor, subsets: int = KID_SUBSETS, size: int | None = None,
        seed: int = 0, k_real: torch.Tensor | None = None) -> dict[str, float]:
    """kid (mean) and kid_std (population std) over subsets of the unbiased MMD^2 of (N, D) generated
    against (M, D) real features. size defaults to `subset_size`; k_real: polynomial_kernel(real, real)
    when already computed."""
    size = subset_size(len(generated), len(real)) if size is None else size
    first, second = draw_subsets(len(generated), len(real), size, subsets, seed)
    if max(len(generated), len(real)) <= FULL_KERNEL_MAX:
        mmd2 = _mmd2_full(generated, real, k_real, first, second, size)
    else:
        mmd2 = torch.stack([_mmd2_subset(generated[f], real[s]) for f, s in zip(first, second)])
    return {"kid": float(mmd2.mean()), "kid_std": float(mmd2.std(unbiased=False))}
