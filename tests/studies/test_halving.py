"""studies/halving.py: where the rungs fall, how many trials each keeps (successive halving's share of
the whole study, with trials that ended before a rung counted in the cut), which trials below the cut go
on because they are within noise of it, and studies driven through the scheduler's own callbacks with
Tune's Trial objects."""

import math

import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from studies.run.halving import SyncHalving, keep, noise, quota, rungs
from studies.plan.plan import default_grace


def test_the_default_rung_comes_at_three_fifths_of_the_budget():
    assert rungs(default_grace(20), 2, 20) == [12]  # mode_collapse: 3,000 updates, 20 evaluations
    assert rungs(default_grace(28), 2, 28) == [17]  # the 8,400-update studies
    assert rungs(14, 2, 40) == [14, 28]
    assert rungs(default_grace(1), 2, 1) == []


def test_each_rung_keeps_its_share_of_the_whole_study():
    assert [quota(14, 2, k) for k in range(3)] == [7, 4, 2]
    assert quota(3, 2, 4) == 1


def test_keep_takes_the_best_and_breaks_ties_for_the_earlier_trial():
    at = {"a": 0.1, "b": 0.3, "c": 0.3, "d": 0.2}
    assert keep(at, ["a", "c", "b", "d"], 2) == {"c", "b"}
    assert keep(at, ["a", "b", "c", "d"], 1) == {"b"}
    assert keep(at, ["a", "b", "c", "d"], 9) == set(at)


def result(it: int, value: float) -> dict:
    return {"training_iteration": it, "score_smooth": value}


def test_trials_that_ended_before_a_rung_count_toward_its_cut():
    trials = [Trial("t", config={"seed": i}, stub=True) for i in range(8)]
    sched = SyncHalving("score_smooth", max_t=4, grace_period=1, reduction_factor=2, trials=8)
    assert sched.milestones == [1, 2]
    for trial in trials:
        sched.on_trial_add(None, trial)
    for trial in trials[4:]:  # ended before the first rung (collapsed, diverged): they rank below every arrival
        sched.on_trial_complete(None, trial, {"training_iteration": 1})
    a, b, c, d = trials[:4]
    # rung 1 keeps 8 / 2 = 4: all four arrivals go on (halving the four that arrived would stop two)
    assert [sched.on_trial_result(None, t, result(1, v)) for t, v in ((a, 0.4), (b, 0.3), (c, 0.2))] \
        == [TrialScheduler.PAUSE] * 3
    assert sched.on_trial_result(None, d, result(1, 0.1)) == TrialScheduler.CONTINUE
    assert sched.kept[1] == {t.trial_id for t in (a, b, c, d)}
    # rung 2 keeps 8 / 4 = 2 of the study, whoever else ended on the way
    assert sched.on_trial_result(None, a, result(2, 0.5)) == TrialScheduler.PAUSE
    assert sched.on_trial_result(None, b, result(2, 0.6)) == TrialScheduler.PAUSE
    sched.on_trial_complete(None, c, {"training_iteration": 2})
    assert sched.on_trial_result(None, d, result(2, 0.05)) == TrialScheduler.STOP
    assert sched.kept[2] == {a.trial_id, b.trial_id} and sched.released == {a.trial_id, b.trial_id}
    assert sched.on_trial_result(None, a, result(3, 0.7)) == TrialScheduler.CONTINUE


def test_noise_is_the_spread_of_a_trials_own_last_changes_scaled_to_the_moving_average():
    zigzag = {1: 0.1, 2: 0.2, 3: 0.1, 4: 0.2, 5: 0.1}  # changes +-0.1: variance 0.04 / 3, halved per evaluation
    assert math.isclose(noise(zigzag, 5, smoothing=1.0), math.sqrt(0.04 / 3 / 2))
    assert math.isclose(noise(zigzag, 5, smoothing=0.5), math.sqrt(0.04 / 3 / 2) * math.sqrt(0.5 / 1.5))
    assert noise({e: 0.1 * e for e in range(1, 9)}, 8, smoothing=0.5) == pytest.approx(0.0)  # a steady climb
    assert noise({1: 0.1, 2: 0.5}, 2, smoothing=1.0) == 0.0  # too few evaluations to tell
    far = {1: 9.0, **{e: 0.1 * e for e in range(2, 7)}}  # evaluation 1 is outside the last five up to the 6th
    assert noise(far, 6, smoothing=1.0) == pytest.approx(0.0)
    assert noise({1: 0.1, 2: 0.2, 3: math.nan}, 3, smoothing=1.0) == 0.0


def test_keep_adds_the_trials_below_the_cut_that_are_within_noise_of_it_and_have_taken_off():
    at = {"a": 0.30, "b": 0.25, "c": 0.24, "e": 0.239, "d": 0.20, "z": -math.inf}
    order = list(at)
    spread = dict.fromkeys(at, 0.005)  # a difference's standard error: 0.005 * sqrt(2) = 0.0071
    assert keep(at, order, 2) == {"a", "b"}
    assert keep(at, order, 2, spread, tolerance=2.0) == {"a", "b", "c", "e"}  # gaps 0.010, 0.011 < 0.0141
    assert keep(at, order, 2, spread, tolerance=1.0) == {"a", "b"}  # ... > 0.0071
    assert keep(at, order, 2, spread, tolerance=2.0, taken_off={"a", "b", "e"}) == {"a", "b", "e"}
    assert keep(at, order, 2, spread, tolerance=0.0) == {"a", "b"}
    assert keep({"a": 0.3, "b": 0.3}, ["b", "a"], 1, {"a": 0.0, "b": 0.0}, tolerance=2.0) == {"a", "b"}  # a tie


def test_a_rung_keeps_a_noisy_trial_that_has_taken_off_and_stops_one_that_has_not():
    a, b, c, d = (Trial("t", config={"seed": i}, stub=True) for i in range(4))
    sched = SyncHalving("score_smooth", max_t=6, grace_period=5, reduction_factor=2, trials=4, raw="score",
                        smoothing=1.0, tolerance=2.0, take_off=0.1)
    assert sched.milestones == [5]
    scores = {a: [0.1, 0.2, 0.3, 0.4, 0.5], b: [0.1, 0.2, 0.3, 0.4, 0.45],
              c: [0.3, 0.5, 0.3, 0.5, 0.44], d: [0.3, 0.5, 0.3, 0.5, 0.44]}  # c and d: the same noisy scores
    quality = {a: 0.5, b: 0.5, c: 0.5, d: 0.05}  # d's samples are not plausible yet: it has not taken off
    for trial in scores:
        sched.on_trial_add(None, trial)
    decisions = {}
    for trial, values in scores.items():
        for it, value in enumerate(values, 1):
            decisions[trial] = sched.on_trial_result(None, trial, {"training_iteration": it, "score": value,
                                                                   "score_smooth": value, "quality": quality[trial]})
    assert [decisions[t] for t in (a, b, c)] == [TrialScheduler.PAUSE] * 3 and decisions[d] == TrialScheduler.STOP
    assert sched.kept[5] == {a.trial_id, b.trial_id, c.trial_id}  # the quota (a, b), and c within noise of b
    assert sched.debug_string().endswith("(5: 3 go on (1 of them within noise of the cut))")
    assert sched.released == {a.trial_id, b.trial_id, c.trial_id}
    for tolerance, ending in ((2.0, TrialScheduler.CONTINUE), (0.0, TrialScheduler.STOP)):  # c arrives last
        three = SyncHalving("score_smooth", max_t=6, grace_period=5, reduction_factor=2, trials=3, raw="score",
                            smoothing=1.0, tolerance=tolerance, take_off=0.1)
        for trial in (a, b, c):
            three.on_trial_add(None, trial)
            for it, value in enumerate(scores[trial], 1):
                decision = three.on_trial_result(None, trial, {"training_iteration": it, "score": value,
                                                               "score_smooth": value, "quality": quality[trial]})
        assert decision == ending
