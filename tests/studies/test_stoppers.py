"""The driver's stoppers and the outcome rule, as pure functions of Tune's results (no Ray
session: Tune calls a stopper with a trial id and a result dict)."""

from studies.run.trials import outcome
from studies.plan.plan import COLLAPSE_PERSISTENCE, COLLAPSE_STALL, default_collapse_grace
from studies.run.stoppers import CollapseStopper, ErrorStopper


def test_the_collapse_stopper_waits_for_its_grace_and_persistence():
    stopper = CollapseStopper("training_iteration", grace=3, persistence=2, stall=0)
    flags = [1, 1, 0, 1, 1, 1]
    decisions = [stopper("t", {"collapsed": float(f), "training_iteration": i + 1}) for i, f in enumerate(flags)]
    assert decisions == [False, False, False, False, True, True] and stopper.stopped == {"t"}


def test_a_trial_that_ends_collapsed_on_its_last_evaluation_is_not_counted_as_stopped():
    """Its budget ran out anyway: the stopper spared it nothing, so it is not in `stopped` (the table
    calls it finished, flagged collapsed, and budget_saved does not count it)."""
    stopper = CollapseStopper("training_iteration", grace=1, persistence=2, stall=0)
    assert not stopper("u", {"collapsed": 1.0, "training_iteration": 8})
    assert stopper("u", {"collapsed": 1.0, "training_iteration": 9, "finished": 1.0})
    assert stopper.stopped == set()
    assert stopper("v", {"collapsed": 1.0, "training_iteration": 3}) is False
    assert stopper("v", {"collapsed": 1.0, "training_iteration": 4}) and stopper.stopped == {"v"}


def test_the_collapse_stopper_waits_for_diversity_to_stall():
    """A trial climbing out of its collapse sets new diversity highs between its collapsed reports: the
    stopper acts only once no report among the last `stall` set one (a report equal to the high is no new
    high), and a result without diversity changes nothing."""
    stopper = CollapseStopper("training_iteration", grace=1, persistence=2, stall=3)
    climbing = [0.02, 0.03, 0.03, 0.05, 0.05, 0.05, 0.05, 0.04]
    decisions = [stopper("t", {"collapsed": 1.0, "training_iteration": i + 1, "diversity": d})
                 for i, d in enumerate(climbing)]
    assert decisions == [False] * 6 + [True, True]  # the high of 0.05 set at the 4th report, three more since
    fresh = CollapseStopper("training_iteration", grace=1, persistence=2, stall=3)
    assert not any(fresh("u", {"collapsed": 1.0, "training_iteration": i + 1, "diversity": 0.01}) for i in range(3))
    assert fresh("u", {"collapsed": 1.0, "training_iteration": 4, "diversity": 0.01})  # the first report was a high
    assert fresh("u", {"collapsed": 1.0, "training_iteration": 5})


def test_the_default_rule_is_a_late_grace_two_reports_and_a_stalled_diversity():
    assert (COLLAPSE_PERSISTENCE, COLLAPSE_STALL) == (2, 6)
    assert default_collapse_grace(28) == 22.4 and default_collapse_grace(28, rung_grace=25) == 25
    stopper = CollapseStopper("training_iteration", grace=default_collapse_grace(10))
    flat = [stopper("t", {"collapsed": 1.0, "training_iteration": i + 1, "diversity": 0.05}) for i in range(10)]
    assert flat.index(True) == 7  # the 8th report: past 8 of 10 evaluations, 7 reports without a new high


def test_the_error_stopper_ends_the_study_only_when_the_first_trials_all_fail_alike():
    same = ErrorStopper(first=2)
    same("a", {"error": 1, "error_message": "KeyError: 'x'"})
    assert not same.stop_all()
    same("b", {"error": 1, "error_message": "KeyError: 'x'"})
    assert same.stop_all() and same.reason == "KeyError: 'x'"
    mixed = ErrorStopper(first=2)
    mixed("a", {"error": 1, "error_message": "KeyError: 'x'"})
    mixed("b", {"finished": 1})
    mixed("c", {"error": 1, "error_message": "KeyError: 'x'"})
    assert not mixed.stop_all()
    counted_once = ErrorStopper(first=2)
    for _ in range(3):  # one trial reporting its end again is still one trial
        counted_once("a", {"error": 1, "error_message": "OSError"})
    assert not counted_once.stop_all()


def test_outcomes():
    budget = ("time_total_s", 120.0)
    assert outcome({"finished": 1.0}) == "finished"
    assert outcome({"finished": 0.0, "time_total_s": 121.0}, budget=budget) == "finished"  # ASHA's last rung
    assert outcome({"finished": 0.0, "time_total_s": 61.0}, budget=budget) == "stopped_early"
    assert outcome({"finished": 0.0, "time_total_s": 61.0}, collapse_stopped=True, budget=budget) == "collapsed"
    assert outcome({"diverged": 1.0}, collapse_stopped=True) == "diverged"
    assert outcome({"finished": 1.0}, error=True) == "error"
    assert outcome({"finished": 0.0, "timed_out": 1.0}, budget=budget) == "out_of_time"
