"""The one relative rule of gan_core.relative, and both score families using it."""

import pytest

from gan_core.mode_scores import relative_mode_scores
from gan_core.relative import relative
from gan_core.sample_scores import relative_sample_scores


@pytest.mark.parametrize("generated, real, share", [
    (0.5, 1.0, 0.5), (2.0, 1.0, 1.0), (0.0, 1.0, 0.0), (-0.1, 1.0, 0.0),  # a share, capped to [0, 1]
    (0.3, 0.0, 1.0), (0.0, 0.0, 1.0), (0.0, -0.2, 1.0),  # real data shows none: nothing to fall short of
])
def test_relative_is_a_capped_share_and_one_against_nothing(generated, real, share):
    assert relative(generated, real) == share


def test_mode_and_sample_set_scores_take_the_same_shares():
    raw, real = {"modes_covered": 3.0, "hq_ratio": 0.2}, {"modes_covered": 4.0, "hq_ratio": 0.0}
    modes = relative_mode_scores(raw, real)
    assert (modes["diversity"], modes["quality"]) == (relative(3.0, 4.0), relative(0.2, 0.0)) == (0.75, 1.0)
    values = {"precision": 0.3, "coverage": 0.4, "ms_ssim": 0.6, "ms_ssim_real": 0.2}
    sample_set = relative_sample_scores(values, {"precision": 0.6, "coverage": 0.0})
    assert sample_set == {"quality": 0.5, "diversity": 0.5, "score": 0.25}  # coverage 1 (real 0) x MS-SSIM 0.4 / 0.8
