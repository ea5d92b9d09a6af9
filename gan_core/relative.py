"""The one rule that turns a raw score into a share of what real data reaches.

Every `diversity` and `quality` a study ranks is relative: the generated
samples' value of some measure divided by real data's value of the same
measure at the same number of samples, capped at 1. The mode scores
(`gan_core.mode_scores`, known modes) and the sample-set scores
(`gan_core.sample_scores`, unknown modes) both use `relative`:

    relative(generated, real) = min(1, max(0, generated / real))   when real > 0
                              = 1                                   when real <= 0

A real value of 0 (or below) means real data itself shows none of the
measure, so the generator cannot fall short of it: the share is 1. Nothing a
study measures reaches that case: the digit datasets' and the 2-D mixtures'
real references cover their modes with confident, high-quality samples, and
the sample-set references have positive precision, coverage and MS-SSIM
distance; it is defined so a degenerate dataset (one image repeated) scores
without dividing by zero.
"""

from __future__ import annotations


def relative(generated: float, real: float) -> float:
    """`generated` as a share of `real`, in [0, 1]; 1 when real <= 0 (see the module docstring)."""
    if real <= 0:
        return 1.0
    return max(0.0, min(1.0, generated / real))
