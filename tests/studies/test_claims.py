"""studies.report.claims: every claim R1-R16 is stated, every part declares its margin and why, and every side of
every part names a setting its study's grid has (with the values it sets) and a metric the trials log or
the findings derive: a typo would leave a claim "not run yet" for ever."""

import pytest

from studies.report import claims
from studies.__main__ import all_studies
from studies.plan.looks import side_points
from studies.report.analysis import COMMON, study_columns
from studies.declare.cli import make_plan

STUDIES = all_studies()
SIDES = [(cid, i, which, getattr(part, which)) for cid, claim in claims.CLAIMS.items()
         for i, part in enumerate(claim.parts) for which in ("a", "b")]
LOGGED = ("precision", "collapsed")  # beside the common columns: prdc's precision, the collapse flag


def test_every_claim_is_stated_in_order():
    assert list(claims.CLAIMS) == [f"R{i}" for i in range(1, 17)]
    for claim in claims.CLAIMS.values():
        assert claim.text.endswith(".") and claim.caveat and claim.parts
    assert [cid for cid, c in claims.CLAIMS.items() if c.about_failure] == ["R3", "R8"]


@pytest.mark.parametrize("cid, index, which, side", SIDES, ids=[f"{c}-{i}{w}" for c, i, w, _ in SIDES])
def test_every_side_names_a_setting_of_its_studys_grid_and_a_metric(cid, index, which, side):
    plan = make_plan(STUDIES[side.study], ["--dry-run"])
    (point,) = side_points({k: v for k, v in plan.space.items() if k != "seed"}, side, range(1))
    assert all(point[k] == v for k, v in side.sets)
    assert side.metric in COMMON + study_columns(side.study) + LOGGED + claims.DERIVED, (cid, side.metric)
    assert side.at is None or side.at <= int(dict(side.sets).get("max_steps", plan.base["max_steps"]))


@pytest.mark.parametrize("cid", list(claims.CLAIMS))
def test_every_part_says_what_it_expects_within_which_margin_and_why(cid):
    for part in claims.CLAIMS[cid].parts:
        assert part.expect in claims.EXPECT and part.margin > 0 and len(part.reason) > 20
        assert part.a != part.b and part.question and part.a.study == part.b.study
        assert not part.paired or (part.a.labels == part.b.labels and part.a.sets == part.b.sets)
        assert claims.command(part.a.study) == f"python -m studies.{part.a.study} --decide"


def test_side_parses_a_setting_and_puts_what_it_sets_in_its_label():
    s = claims.side("dg_ratio", "loss=bce ratio=3:1", "take_off", max_steps=16800)
    assert s.labels == (("loss", "bce"), ("ratio", "3:1"), ("max_steps", "16800")) and s.metric == "take_off"
    assert s.setting == "loss=bce ratio=3:1 max_steps=16800" and str(s) == s.setting + " (take_off)"
    assert claims.parts_of("dg_ratio", ["R4"]) == [("R4", i, p) for i, p in enumerate(claims.CLAIMS["R4"].parts)]
