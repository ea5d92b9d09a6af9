"""benchmarks/fifo_vs_asha.py: the count of trials ASHA stopped that FIFO ranks in its top quarter (the
measure of an early stop that biases a study's answer), on paired trials with known outcomes; the replay of
ASHA on FIFO runs' histories; and the collapse stopper's false stops (trials it ends that FIFO shows
escaping), per rule, on made-up histories and on the kept FIFO runs."""

import importlib.util
import json
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
    # 0.05) are within two standard errors; d has not taken off; a stopper from evaluation 3 with no stall
    # window ends e at evaluation 4
    got = fifo_vs_asha.replay(fifo, grace=3, tolerance=2.0, smoothing=1.0, collapse_grace=3, stall=0)
    assert {k: (t["outcome"], t["rounds"]) for k, t in got.items()} == {
        "f": ("finished", 500), "a": ("finished", 500), "b": ("finished", 500), "c": ("finished", 500),
        "d": ("stopped_early", 300), "e": ("collapsed", 400)}
    assert got["e"]["final"] == 0.2 and got["d"]["final"] == 0.01  # the score where each ended
    default = fifo_vs_asha.replay(fifo, grace=3, tolerance=2.0, smoothing=1.0)  # the stopper's grace at 4 of 5,
    assert default["e"]["outcome"] == "finished"  # and never 6 evaluations without a new diversity high
    quota_alone = fifo_vs_asha.replay(fifo, grace=3, tolerance=0.0, smoothing=1.0)
    assert {k for k, t in quota_alone.items() if t["outcome"] == "stopped_early"} == {"c", "d", "e"}
    text = fifo_vs_asha.summary("s", fifo, got, "replayed")
    assert "used 2,700 network updates against FIFO's 3,000 (10% saved); replayed" in text  # 4 x 500 + 300 + 400
    assert "- FIFO's top quarter lost to early stops (at a rung, or as collapsed and escaping later in FIFO): 0" \
        in text.splitlines()  # f and a, FIFO's top quarter, both finish


def test_replay_of_the_exported_fifo_runs_gives_what_their_asha_runs_did():
    """The FIFO runs docs/fifo-vs-asha.md measures, exported. Replayed under the collapse stopper's rule they ran
    with (its grace at the rung, no stall window), each one that had a real ASHA run gives the updates and
    stops that run gave (with the rung's tolerance, and with the quota alone, the rule before it); for the
    others the page's answer is the replay's under today's rules, pinned here."""
    def used(name: str, tolerance: float, grace: float | None = None, before: bool = False) -> tuple[int, list[str]]:
        study, smoothing, fifo = fifo_vs_asha.load(SCRIPT.parent / "fifo_runs" / f"{name}.json")
        rung = grace or fifo_vs_asha.default_grace(max(len(t["history"]["score"]) for t in fifo.values()))
        asha = fifo_vs_asha.replay(fifo, grace, tolerance, 2, smoothing, *((rung, 0) if before else ()))
        top, lost = fifo_vs_asha.top_quarter_stopped(fifo, asha)
        return sum(t["rounds"] for t in asha.values()), [fifo[k]["setting"] for k in lost
                                                         if asha[k]["outcome"] == "stopped_early"]
    assert used("label_smoothing", 2.0, before=True) == used("label_smoothing", 2.0) == (63_900, [])
    assert used("label_smoothing", 0.0, before=True) == (54_000, ["preset=noisy seed=0"])
    assert used("mode_collapse", 2.0, before=True) == (32_100, [])
    assert used("mode_collapse", 0.0, before=True) == (31_950, [])
    assert used("mode_collapse_6000", 2.0, grace=14, before=True) == (42_900, ["mitigation=label-smoothing seed=1"])
    # today's stopper acts from four fifths of the budget: it no longer ends BCE 1:5 seeds 0 and 1 at 5,100
    # and 8,100 updates (1,500 more), and no stop before a rung thins its cut
    assert used("dg_ratio", 2.0) == used("dg_ratio", 0.0) == (133_500, [])  # FIFO's only: no real ASHA run
    assert used("mode_collapse", 2.0) == (35_850, [])
    assert used("mode_collapse", 0.0) == (33_150, ["mitigation=pack seed=1"])  # the quota alone cuts FIFO's third
    assert used("loss_family", 2.0) == used("loss_family", 0.0) == (81_000, [])  # FIFO's only
    assert used("conditional", 2.0) == (70_800, []) and used("conditional", 0.0) == (67_500, [])  # FIFO's only
    assert used("normalization", 2.0) == used("normalization", 0.0) == (108_000, [])  # FIFO's only
    assert used("training_tips", 2.0) == used("training_tips", 0.0) == (108_000, [])  # FIFO's only
    assert used("architecture", 2.0) == used("architecture", 0.0) == (67_500, [])  # FIFO's only: VAE seed 1,
    # FIFO's fourth of ten, is stopped at the rung before it takes off (docs/fifo-vs-asha.md)


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
    assert lines[-1].startswith("| `mode_collapse` | 14 | 3,000 | 42,000 | 33,150 (21%) |")  # today's stopper
    before = subprocess.run([sys.executable, str(SCRIPT), "--replay", *files, "--rung-tolerance", "0",
                             "--stopper-before"], capture_output=True, text=True, timeout=120, cwd=SCRIPT.parents[1])
    assert before.stdout.strip().splitlines()[-1].startswith(
        "| `mode_collapse` | 14 | 3,000 | 42,000 | 31,950 (24%) |")  # the real ASHA run's, with the quota alone


def test_the_docs_table_is_the_replay_of_the_committed_fifo_runs():
    rows = []
    for path in sorted((SCRIPT.parent / "fifo_runs").glob("*.json")):
        study, smoothing, fifo = fifo_vs_asha.load(path)
        rows.append(fifo_vs_asha.overview_row(study, fifo, fifo_vs_asha.replay(fifo, smoothing=smoothing)))
    page = (SCRIPT.parents[1] / "docs" / "fifo-vs-asha.md").read_text()
    assert fifo_vs_asha.overview(rows) in page


def stop_trial(diversity: list[float], flags: list[int], machine: str | None = None, max_steps: int = 1000,
               threshold: str | None = None) -> dict:
    """A trial evaluated every 100 updates (its budget `max_steps`) with these diversities and collapse flags."""
    steps = [100 * (i + 1) for i in range(len(diversity))]
    params = {"eval_every": "100", "budget": "updates", "max_steps": str(max_steps),
              **({"collapse_threshold": threshold} if threshold else {})}
    history = {"score": [(s, 0.1) for s in steps], "diversity": list(zip(steps, diversity)),
               "collapsed": list(zip(steps, flags))}
    return {"params": params, "history": history, "outcome": "finished", "rounds": steps[-1], "final": 0.1,
            **({"machine": machine} if machine else {})}


LOW, FLAGS = [0.05] * 10, [0, 0, 0, 0, 1, 1, 1, 0, 0, 0]  # collapsed at evaluations 5 to 7


def test_false_stops_tell_the_escaped_and_the_climbing_from_the_held_per_cpu_type():
    rule = fifo_vs_asha.StopRule(None, 2, 0)  # the stopper from ASHA's rung (6 of 10 evaluations), 2 in a row
    fifo = {"held": stop_trial(LOW, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1], machine="cpu-AVX512"),
            "escaped": stop_trial([*LOW[:8], 0.3, 0.2], FLAGS, machine="cpu-AVX512"),  # past 0.25 at 900 only
            "climbing": stop_trial([*LOW[:9], 0.13], FLAGS, machine="cpu-AVX2"),  # at half the threshold at the end
            "own bar": stop_trial([*LOW[:9], 0.3], FLAGS, machine="cpu-AVX2", threshold="0.7"),  # under 0.35 at the end
            "last only": stop_trial(LOW, [0] * 8 + [1, 1]),  # the budget ends it first: no stop
            "cut short": stop_trial(LOW, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1], max_steps=2000)}  # an ASHA run's: left out
    for k, t in fifo.items():
        t["setting"] = k
    rows = fifo_vs_asha.false_stops([("s", 0.5, fifo), ("s", 0.5, {"again": fifo["held"]})], rule)  # counted once
    got = {r["machine"]: (r["trials"], r["stopped"], r["escaped"], r["climbing"], r["held"], r["saved"]) for r in rows}
    assert got == {"cpu-AVX2": (2, 2, 0, 1, 1, 800), "cpu-AVX512": (2, 2, 1, 0, 1, 800),
                   "not recorded": (1, 0, 0, 0, 0, 0)}
    table, whole = fifo_vs_asha.false_stop_table([("s", 0.5, fifo)], rule)
    lines = table.splitlines()
    assert lines[-5].startswith("| **all, cpu-AVX2** |  |  | 2 | 2 | 1 (0 + 1) | 1 | 800 (40.0%) |")
    assert lines[-2] == "| **all** |  |  | 5 | 4 | 2 (1 + 1) | 2 | 1,600 (32.0%) |"
    assert lines[-1] == ("- false stops: climbing (s, stopped at 600: climbing, diversity 0.13 at the end); "
                         "escaped (s, stopped at 600: escaped at 900)")
    late = fifo_vs_asha.false_stops([("s", 0.5, fifo)], fifo_vs_asha.StopRule(4 / 5, 2, 0))  # from evaluation 8
    assert [(r["stopped"], r["held"]) for r in late] == [(0, 0), (1, 1), (0, 0)]  # only the one still collapsed
    report = fifo_vs_asha.false_stop_report([("s", 0.5, fifo)], [rule])
    assert "1 trials that did not run their whole budget left out." in report.splitlines()[0]


def test_a_findings_export_gives_the_same_trials_with_their_cpu_type(tmp_path):
    trial = stop_trial([*LOW[:8], 0.3, 0.2], FLAGS)
    export = {"study": "s", "trials": [{"name": "loss=bce seed=0", "setting": "loss=bce", "seed": "0",
                                        "status": "finished", "params": {"budget": "updates", "max_steps": "1000"},
                                        "machine": "cpu-AVX2", "history": {k: [list(p) for p in v]
                                                                           for k, v in trial["history"].items()}}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(export))
    study, smoothing, fifo = fifo_vs_asha.load(path)
    got = fifo["loss=bce seed=0"]
    assert (study, smoothing, got["machine"], got["params"]["eval_every"], got["rounds"]) == (
        "s", 0.5, "cpu-AVX2", "100", 1000)
    assert got["history"]["score_smooth"][0] == (100, 0.1)
    rows = fifo_vs_asha.false_stops([(study, smoothing, fifo)], fifo_vs_asha.RULE_BEFORE)
    assert [(r["machine"], r["stopped"], r["escaped"]) for r in rows] == [("cpu-AVX2", 1, 1)]


def test_the_default_rule_makes_no_false_stop_on_the_kept_fifo_runs_as_the_benchmark_prints():
    """The kept FIFO runs (one CPU type, 2 seeds a setting): the rule before stopped 21 trials, three of which
    FIFO shows escaping; the default stops 15, none falsely. The benchmark's last table says so."""
    files = sorted((SCRIPT.parent / "fifo_runs").glob("*.json"))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--false-stops", *map(str, files)],
                          capture_output=True, text=True, timeout=120, cwd=SCRIPT.parents[1])
    assert proc.returncode == 0, proc.stderr
    runs = [fifo_vs_asha.load(f) for f in files]
    printed = proc.stdout.strip().splitlines()
    for rule, mark, figures in [(fifo_vs_asha.RULE_BEFORE, " (the rule before 2026-12-07)", (21, 1, 2)),
                                (fifo_vs_asha.RULE, " (the default)", (15, 0, 0))]:
        _, whole = fifo_vs_asha.false_stop_table(runs, rule)
        assert (whole["stopped"], whole["escaped"], whole["climbing"]) == figures
        assert f"| {rule}{mark} | {' | '.join(fifo_vs_asha.counts(whole))} |" in printed
    _, before = fifo_vs_asha.false_stop_table(runs, fifo_vs_asha.RULE_BEFORE)
    assert [f.split(" (")[0] for f in before["false"]] == [
        "arch=vae seed=1", "loss=bce ratio=1:5 seed=1", "mitigation=pack seed=0"]
    assert printed.index("### Every rule, in total") > printed.index(f"### {fifo_vs_asha.RULE} (the default)")
