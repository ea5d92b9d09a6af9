"""studies/halving.py: where the rungs fall, how many trials each keeps (successive halving's share of
the whole study, with trials that ended before a rung counted in the cut), and a study driven through
the scheduler's own callbacks with Tune's Trial objects."""

from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from studies.halving import SyncHalving, keep, quota, rungs
from studies.plan import default_grace


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
