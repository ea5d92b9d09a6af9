"""studies.claims: every claim R1-R16 is stated, and every side of every part names a setting its study's
default run really has and a metric that study logs (a typo would leave a claim "not run yet" for ever)."""

import importlib
import itertools

import pytest

from studies import claims
from studies.report_analysis import COMMON, study_columns
from studies.spaces import label, label_columns


def default_settings(study: str) -> set[str]:
    """The labels (without seed) of every trial the study's default grid runs."""
    space = importlib.import_module(f"studies.{study}").STUDY.space()
    grids = {k: v["grid_search"] for k, v in space.items() if isinstance(v, dict) and "grid_search" in v}
    columns = label_columns(space)
    return {label(columns, dict(zip(grids, combo))) for combo in itertools.product(*grids.values())}


def test_every_claim_is_stated_in_order():
    assert list(claims.CLAIMS) == [f"R{i}" for i in range(1, 17)]
    for claim in claims.CLAIMS.values():
        assert claim.text.endswith(".") and claim.caveat and claim.parts


SIDES = [(cid, i, which, getattr(part, which)) for cid, claim in claims.CLAIMS.items()
         for i, part in enumerate(claim.parts) for which in ("a", "b")]


@pytest.mark.parametrize("cid, index, which, side", SIDES, ids=[f"{c}-{i}{w}" for c, i, w, _ in SIDES])
def test_every_side_names_a_default_setting_and_a_logged_metric(cid, index, which, side):
    assert side.setting in default_settings(side.study), (cid, side.setting, sorted(default_settings(side.study)))
    assert side.metric in COMMON + study_columns(side.study), (cid, side.metric)


@pytest.mark.parametrize("cid", list(claims.CLAIMS))
def test_every_part_says_what_it_expects_and_when(cid):
    for part in claims.CLAIMS[cid].parts:
        assert part.expect in claims.EXPECT and part.at in claims.AT
        assert part.a != part.b and part.question
        assert claims.command(part.a.study) == f"python -m studies.{part.a.study} --seeds {claims.SEEDS}"


def test_side_parses_a_setting_label():
    s = claims.side("conditional", "conditioning=cgan matching_aware=True", "cond_acc")
    assert s.labels == (("conditioning", "cgan"), ("matching_aware", "True")) and s.metric == "cond_acc"
    assert s.setting == "conditioning=cgan matching_aware=True" and str(s).endswith("(cond_acc)")
