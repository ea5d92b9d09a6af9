"""benchmarks/fifo_vs_asha.py: the count of trials ASHA stopped that FIFO ranks in its top quarter (the
measure of an early stop that biases a study's answer), on paired trials with known outcomes."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fifo_vs_asha.py"
spec = importlib.util.spec_from_file_location("fifo_vs_asha", SCRIPT)
fifo_vs_asha = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fifo_vs_asha)


def pair(finals: dict[str, float], outcomes: dict[str, str]) -> tuple[dict, dict]:
    fifo = {k: {"final": v, "setting": k} for k, v in finals.items()}
    asha = {k: {"outcome": outcomes.get(k, "finished")} for k in finals}
    return fifo, asha


def test_top_quarter_is_ranked_by_fifo_final_and_counts_asha_and_collapse_stops():
    finals = {f"t{i}": i / 10 for i in range(8)}  # t7, t6 are FIFO's top quarter
    fifo, asha = pair(finals, {"t7": "stopped_early", "t5": "collapsed", "t0": "collapsed"})
    top, lost = fifo_vs_asha.top_quarter_stopped(fifo, asha)
    assert top == ["t7", "t6"] and lost == ["t7"]  # t5 is stopped too, but not in the top quarter
    fifo, asha = pair(finals, {"t6": "collapsed", "t7": "finished"})
    assert fifo_vs_asha.top_quarter_stopped(fifo, asha) == (["t7", "t6"], ["t6"])


def test_a_small_study_still_has_a_top_trial():
    fifo, asha = pair({"a": 0.2, "b": 0.9, "c": 0.1}, {"b": "stopped_early"})
    assert fifo_vs_asha.top_quarter_stopped(fifo, asha) == (["b"], ["b"])
    fifo, asha = pair({"a": 0.2, "b": 0.9}, {})
    assert fifo_vs_asha.top_quarter_stopped(fifo, asha) == (["b"], [])


def fifo_trial(quality: list[float], bar: str | None = None, every: int = 150) -> dict:
    params = {"collapse_quality": bar} if bar else {}
    history = {"quality": [(every * (i + 1), q) for i, q in enumerate(quality)]}
    return {"params": params, "history": history, "rounds": every * len(quality)}


def test_take_off_is_the_first_evaluation_at_the_trials_quality_bar():
    assert fifo_vs_asha.take_off(fifo_trial([0.0, 0.05, 0.12, 0.03, 0.2])) == 450
    assert fifo_vs_asha.take_off(fifo_trial([0.0, 0.05, 0.12, 0.03, 0.2], bar="0.15")) == 750
    assert fifo_vs_asha.take_off(fifo_trial([0.0, 0.02])) is None


def test_take_off_line_gives_median_and_latest_against_the_budget():
    fifo = {"a": fifo_trial([0.0, 0.2, 0.3, 0.3]), "b": fifo_trial([0.0, 0.0, 0.0, 0.2]),
            "c": fifo_trial([0.2, 0.3, 0.3, 0.3]), "d": fifo_trial([0.0, 0.0, 0.0, 0.0])}
    line = fifo_vs_asha.take_off_line(fifo)
    assert "median step 300 (50% of the 600-step budget), latest 600 (100%)" in line
    assert "1 of 4 trials never took off" in line
    assert "no FIFO trial" in fifo_vs_asha.take_off_line({"d": fifo["d"]})


def test_lost_lines_count_rung_stops_and_collapse_stops_apart_with_the_fifo_end_of_the_collapsed():
    finals = {f"t{i}": i / 10 for i in range(8)}
    fifo, asha = pair(finals, {"t7": "stopped_early", "t6": "collapsed", "t5": "collapsed"})
    for k in fifo:
        fifo[k]["params"] = {}
        fifo[k]["history"] = {"modes_covered": [(150, 40.0), (300, 56.0), (450, 60.0)],
                              "collapsed": [(150, 1.0), (300, 1.0), (450, 0.0)],
                              "diversity": [(150, 0.05), (300, 0.09), (450, 0.11)]}
        asha[k]["rounds"] = 150
    top, lost = fifo_vs_asha.top_quarter_stopped(fifo, asha)
    rung, collapsed, total = fifo_vs_asha.lost_lines(fifo, asha, top, lost)
    assert rung == "- FIFO's top quarter (2 trials by final score) stopped at an ASHA rung: 1 (t7)"
    assert collapsed == ("- FIFO's top quarter stopped as collapsed: 1 (t6: FIFO final 0.600, 60 modes, not "
                         "collapsed at its last evaluation, diversity at most 0.11 after the stop: it never escaped)")
    assert total.endswith(": 1")  # the rung stop; t6 stayed under the collapse threshold of 0.25
    fifo["t6"]["history"]["diversity"][-1] = (450, 0.3)  # now FIFO shows it escaping after the stop
    assert "threshold at step 450: it escaped" in fifo_vs_asha.lost_lines(fifo, asha, top, lost)[1]
    assert fifo_vs_asha.lost_lines(fifo, asha, top, lost)[2].endswith(": 2")
    fifo["t6"]["params"] = {"collapse_threshold": "0.5"}  # a trial's own threshold counts
    assert fifo_vs_asha.lost_lines(fifo, asha, top, lost)[2].endswith(": 1")
    fifo, asha = pair(finals, {})
    assert fifo_vs_asha.lost_lines(fifo, asha, *fifo_vs_asha.top_quarter_stopped(fifo, asha)) == [
        "- FIFO's top quarter (2 trials by final score) stopped at an ASHA rung: 0",
        "- FIFO's top quarter stopped as collapsed: 0",
        "- FIFO's top quarter lost to early stops (at a rung, or as collapsed and escaping later in FIFO): 0"]
