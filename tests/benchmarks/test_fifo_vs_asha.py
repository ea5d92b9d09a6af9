"""benchmarks/fifo_vs_asha.py: the count of trials ASHA stopped that FIFO ranks in its top quarter (the
measure of an early stop that biases a study's answer), on paired trials with known outcomes."""

import importlib.util
import subprocess
import sys
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


def fifo_run(scores: dict[str, list[float]], quality: dict[str, float], collapsed: dict[str, list[int]]) -> dict:
    """FIFO trials evaluated every 100 updates, score_smooth equal to score (smoothing 1)."""
    out = {}
    for k, values in scores.items():
        steps = [100 * (i + 1) for i in range(len(values))]
        flags = collapsed.get(k, [0] * len(values))
        history = {"score": list(zip(steps, values)), "score_smooth": list(zip(steps, values)),
                   "quality": [(s, quality[k]) for s in steps], "collapsed": list(zip(steps, flags)),
                   "diversity": [(s, 0.1 if f else 0.5) for s, f in zip(steps, flags)]}
        out[k] = {"params": {"eval_every": "100", "budget": "updates"}, "history": history, "setting": k,
                  "outcome": "finished", "rounds": steps[-1], "final": values[-1]}
    return out


def test_replay_runs_the_collapse_stopper_and_the_rungs_on_the_fifo_histories():
    fifo = fifo_run({"f": [0.2, 0.3, 0.4, 0.5, 0.6], "a": [0.1, 0.2, 0.3, 0.4, 0.5], "b": [0.1, 0.2, 0.28, 0.35, 0.45],
                     "c": [0.3, 0.1, 0.27, 0.3, 0.4],  # noisy: a standard error of 0.185 at the rung
                     "d": [0.0, 0.0, 0.01, 0.0, 0.0],  # never takes off
                     "e": [0.0, 0.05, 0.2, 0.2, 0.2]},  # collapsed at evaluations 3 and 4
                    quality={"f": 0.5, "a": 0.5, "b": 0.5, "c": 0.5, "d": 0.05, "e": 0.5},
                    collapsed={"e": [0, 0, 1, 1, 0]})
    # the rung at evaluation 3 keeps 3 of 6 (f, a, b); c (0.01 behind b) and e (0.08 behind, standard error
    # 0.05) are within two standard errors; d has not taken off; the stopper ends e at evaluation 4
    got = fifo_vs_asha.replay(fifo, grace=3, tolerance=2.0, smoothing=1.0)
    assert {k: (t["outcome"], t["rounds"]) for k, t in got.items()} == {
        "f": ("finished", 500), "a": ("finished", 500), "b": ("finished", 500), "c": ("finished", 500),
        "d": ("stopped_early", 300), "e": ("collapsed", 400)}
    assert got["e"]["final"] == 0.2 and got["d"]["final"] == 0.01  # the score where each ended
    quota_alone = fifo_vs_asha.replay(fifo, grace=3, tolerance=0.0, smoothing=1.0)
    assert {k for k, t in quota_alone.items() if t["outcome"] == "stopped_early"} == {"c", "d", "e"}
    text = fifo_vs_asha.summary("s", fifo, got, "replayed")
    assert "used 2,700 network updates against FIFO's 3,000 (10% saved); replayed" in text  # 4 x 500 + 300 + 400
    assert "- FIFO's top quarter lost to early stops (at a rung, or as collapsed and escaping later in FIFO): 0" \
        in text.splitlines()  # f and a, FIFO's top quarter, both finish


def test_replay_of_the_exported_fifo_runs_gives_what_their_asha_runs_did():
    """The FIFO runs the README measures, exported. Replayed, each one that had a real ASHA run gives the
    updates and stops that run gave (with the rung's tolerance, and with the quota alone, the rule before
    it); for the others the README's answer is the replay's, pinned here."""
    def used(name: str, tolerance: float, grace: float | None = None) -> tuple[int, list[str]]:
        study, smoothing, fifo = fifo_vs_asha.load(SCRIPT.parent / "fifo_runs" / f"{name}.json")
        asha = fifo_vs_asha.replay(fifo, grace, tolerance, 2, smoothing)
        top, lost = fifo_vs_asha.top_quarter_stopped(fifo, asha)
        return sum(t["rounds"] for t in asha.values()), [fifo[k]["setting"] for k in lost
                                                         if asha[k]["outcome"] == "stopped_early"]
    assert used("label_smoothing", 2.0) == (63_900, [])
    assert used("label_smoothing", 0.0) == (54_000, ["preset=noisy seed=0"])
    assert used("mode_collapse", 2.0) == (32_100, [])
    assert used("mode_collapse", 0.0) == (31_950, [])
    assert used("mode_collapse_6000", 2.0, grace=14) == (42_900, ["mitigation=label-smoothing seed=1"])
    assert used("dg_ratio", 2.0) == used("dg_ratio", 0.0) == (132_000, [])  # FIFO's only: no real ASHA run
    assert used("loss_family", 2.0) == used("loss_family", 0.0) == (81_000, [])  # FIFO's only
    assert used("conditional", 2.0) == (70_800, []) and used("conditional", 0.0) == (67_500, [])  # FIFO's only
    assert used("normalization", 2.0) == used("normalization", 0.0) == (108_000, [])  # FIFO's only
    assert used("training_tips", 2.0) == used("training_tips", 0.0) == (108_000, [])  # FIFO's only
    assert used("architecture", 2.0) == used("architecture", 0.0) == (67_500, [])  # FIFO's only: VAE seed 1,
    # FIFO's fourth of ten, is stopped at the rung before it takes off (README)


def test_the_overview_gives_a_line_per_run_with_its_budget_saving_and_losses():
    study, smoothing, fifo = fifo_vs_asha.load(SCRIPT.parent / "fifo_runs" / "label_smoothing.json")
    quota_alone = fifo_vs_asha.replay(fifo, None, 0.0, 2, smoothing)
    row = fifo_vs_asha.overview_row(study, fifo, quota_alone)
    assert row == ["`label_smoothing`", "8", "8,400", "67,200", "54,000 (20%)", "4 / 4 / 0", "yes",
                   "1 (preset=noisy seed=0)"]
    table = fifo_vs_asha.overview([row, fifo_vs_asha.overview_row(study, fifo, fifo)]).splitlines()
    assert len(table) == 4 and table[1].count("---") == 8
    assert table[3].endswith("| 67,200 | 67,200 (0%) | 8 / 0 / 0 | yes | 0 |")  # FIFO against itself


def test_replay_of_several_runs_prints_each_then_the_overview():
    files = [str(SCRIPT.parent / "fifo_runs" / f"{name}.json") for name in ("label_smoothing", "mode_collapse")]
    proc = subprocess.run([sys.executable, str(SCRIPT), "--replay", *files, "--rung-tolerance", "0"],
                          capture_output=True, text=True, timeout=120, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("study `") == 2
    lines = proc.stdout.strip().splitlines()
    assert lines[-2].startswith("| `label_smoothing` | 8 | 8,400 | 67,200 | 54,000 (20%) |")
    assert lines[-1].startswith("| `mode_collapse` | 14 | 3,000 | 42,000 | 31,950 (24%) |")


def test_the_readme_table_is_the_replay_of_the_committed_fifo_runs():
    rows = []
    for path in sorted((SCRIPT.parent / "fifo_runs").glob("*.json")):
        study, smoothing, fifo = fifo_vs_asha.load(path)
        rows.append(fifo_vs_asha.overview_row(study, fifo, fifo_vs_asha.replay(fifo, smoothing=smoothing)))
    readme = (SCRIPT.parents[1] / "README.md").read_text()
    assert fifo_vs_asha.overview(rows) in readme
