"""studies.report: the numbers of a report built from a sqlite store filled by hand with known values
(no Ray; the report a real smoke study builds at its end is checked in tests/test_newcomer.py), and the HTML page
rendered by headless Chromium with every embedded figure loaded."""

import re
import warnings
from html import escape as html_escape
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from studies.report import build as report, figures as report_figures, stats
from studies.run import tracking
from studies.report.analysis import analyse, report_keys
from studies.report.runs import load_study
from studies.report.search import param_importances

ROOT = Path(__file__).resolve().parents[2]
STUDY = "training_tips"  # a real study's name: its own columns (quality, d_skip_rate) are shown
STEPS = (10, 20, 30)
# setting -> [(seed, outcome, score per evaluation, collapsed flag per evaluation)]
TRIALS = {
    "opt=adam": [(0, "finished", [0.1, 0.5, 0.6], None), (1, "finished", [0.2, 0.6, 0.7], None),
                 (2, "stopped_early", [0.1, 0.4], None), (3, "finished", [0.2, 0.8, 0.9], None)],
    "opt=sgd": [(0, "finished", [0.05, 0.1, 0.1], None), (1, "collapsed", [0.0, 0.05], [0, 1]),
                (2, "finished", [0.05, 0.15, 0.2], [0, 0, 1]), (3, "finished", [0.05, 0.1, 0.15], None)],
    "opt=rms": [(0, "finished", [0.3, 0.3, 0.35], None), (1, "diverged", [0.0], None)],
}
FIGURES = ("intervals", "curves", "samples", "modes", "losses")
# A study whose best at the common step is not its best at the end (steps 10..40): ratio=1:1 leads at step 20,
# where ratio=5:1's seed 0 was stopped by ASHA; ratio=1:2 finishes highest of the settings with two seeds at
# the end, and ratio=5:1's lone survivor finishes higher still. FIFO: the same steps, every trial finished.
ENDS = {
    "ratio=1:1": [(0, "finished", [0.2, 0.5, 0.5, 0.45]), (1, "finished", [0.2, 0.6, 0.55, 0.5])],
    "ratio=1:2": [(0, "finished", [0.1, 0.3, 0.6, 0.8]), (1, "finished", [0.1, 0.35, 0.7, 0.85])],
    "ratio=5:1": [(0, "stopped_early", [0.1, 0.2]), (1, "finished", [0.1, 0.3, 0.9, 0.95])],
}
FIFO = {
    "ratio=1:1": [(0, "finished", [0.2, 0.5, 0.6, 0.7]), (1, "finished", [0.2, 0.6, 0.7, 0.8])],
    "ratio=1:2": [(0, "finished", [0.1, 0.3, 0.4, 0.5]), (1, "finished", [0.1, 0.35, 0.45, 0.55])],
}


def log_trial(client, exp_id, parent_id, setting, seed, outcome, scores, collapsed, start):
    label = f"{setting} lr=0.1 seed={seed}"  # the group tag, not this label, names the setting
    run = client.create_run(exp_id, run_name=f"trial_{setting}_{seed}", start_time=start,
                            tags={"mlflow.parentRunId": parent_id, "gan.setting": label, "gan.group": setting,
                                  "gan.status": outcome})
    rid = run.info.run_id
    for i, (step, score) in enumerate(zip(STEPS, scores)):
        metrics = {"score": score, "diversity": score, "quality": 1.0, "d_skip_rate": 0.25,
                   "loss_d": 1.0 + i, "loss_g": 2.0 - i, "collapsed": float(collapsed[i]) if collapsed else 0.0}
        client.log_batch(rid, metrics=[Metric(k, v, 0, step) for k, v in metrics.items()])
        grid = np.full((24, 24, 3), int(255 * score), np.uint8)
        client.log_image(rid, grid, key="samples", step=step)
    if setting != "opt=rms":  # a trial whose dataset has no known modes logs no histogram
        covered = max(1, int(10 * scores[-1]))  # 10 modes: the better the score, the more covered
        tracking.log_modes(client, rid, STEPS[len(scores) - 1],
                           {"counts": [100 // covered] * covered + [0] * (10 - covered), "real": [10] * 10})
    client.set_terminated(rid)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sqlite store with an empty parent run, an older one (one trial) and the newest (TRIALS)."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'm.db'}"
    client = MlflowClient(uri)
    exp_id = client.create_experiment(STUDY, artifact_location=(folder / "artifacts").as_uri())
    client.create_run(exp_id, run_name="empty-run", start_time=500, tags={"role": "study"})
    old = client.create_run(exp_id, run_name="old-run", start_time=1_000, tags={"role": "study"}).info.run_id
    log_trial(client, exp_id, old, "opt=old", 0, "finished", [0.9, 0.9, 0.9], None, 1_001)
    parent = client.create_run(exp_id, run_name="new-run", start_time=2_000, tags={"role": "study"}).info.run_id
    client.log_param(parent, "scheduler", "{'name': 'asha', 'time_attr': 'training_iteration'}")
    start = 2_001
    for setting, trials in TRIALS.items():
        for seed, outcome, scores, collapsed in trials:
            log_trial(client, exp_id, parent, setting, seed, outcome, scores, collapsed, start)
            start += 1
    log_search(client, folder)
    log_ends(client, folder, "ends", ENDS)
    log_ends(client, folder, "fifo", FIFO)
    return uri, parent, folder


def log_ends(client, folder, study, settings):
    """A study of `settings` (setting -> [(seed, outcome, score per evaluation at 10, 20, 30, 40)])."""
    exp_id = client.create_experiment(study, artifact_location=(folder / study).as_uri())
    parent = client.create_run(exp_id, run_name=f"{study}-1", tags={"role": "study"}).info.run_id
    for setting, trials in settings.items():
        for seed, outcome, scores in trials:
            tags = {"mlflow.parentRunId": parent, "gan.setting": f"{setting} seed={seed}", "gan.status": outcome}
            rid = client.create_run(exp_id, run_name=f"{setting} seed={seed}", tags=tags).info.run_id
            client.log_batch(rid, metrics=[Metric(key, score, 0, 10 * (i + 1)) for i, score in enumerate(scores)
                                           for key in ("score", "diversity", "loss_d")])


def log_search(client, folder):
    """A `tune` experiment: eight Optuna trials whose score follows lr_d; loss alternates and does not matter."""
    exp_id = client.create_experiment("tune", artifact_location=(folder / "tune").as_uri())
    parent = client.create_run(exp_id, run_name="tune-1", tags={"role": "study"}).info.run_id
    client.log_param(parent, "search_space", "{'optuna_tpe': 'def space(trial): ...'}")
    for i in range(8):
        lr, loss = 1e-4 * (i + 1), ("bce", "hinge")[i % 2]
        rid = client.create_run(exp_id, run_name=f"t{i}", start_time=10 + i, tags={
            "mlflow.parentRunId": parent, "gan.setting": f"loss={loss} lr_d={lr:.3g} seed=0",
            "gan.status": "finished"}).info.run_id
        client.log_batch(rid, metrics=[Metric("score", 0.1 * i * step / 30, 0, step) for step in STEPS])


@pytest.fixture(scope="module")
def built(store):
    uri, parent, folder = store
    lines, html = report.build_report(uri, STUDY, None, str(folder / "report"))
    return lines, Path(html)


def test_the_numbers_of_a_known_store(store):
    uri, parent, _ = store
    analysis = analyse(load_study(MlflowClient(uri), STUDY, None, report_keys(STUDY)))
    assert analysis.runs.parent_id == parent and analysis.common_step == 20  # adam seed 2 and sgd seed 1 end there
    assert analysis.columns == ("score", "diversity", "quality", "d_skip_rate")
    by_name = {s.setting: s for s in analysis.settings}
    assert [s.setting for s in analysis.settings] == ["opt=adam", "opt=rms", "opt=sgd"]
    adam, sgd, rms = by_name["opt=adam"], by_name["opt=sgd"], by_name["opt=rms"]
    # at step 20: adam 0.5, 0.6, 0.4, 0.8; sgd 0.1, 0.05, 0.15, 0.1; rms 0.3 (its diverged seed has no score)
    assert adam.at_common["score"].mean == pytest.approx(0.575)
    assert adam.at_common["score"].iqm == pytest.approx(0.55)  # middle two of 0.4, 0.5, 0.6, 0.8
    low, high = adam.at_common["score"].ci
    assert 0.4 <= low < 0.575 < high <= 0.8
    assert sgd.at_common["score"].mean == pytest.approx(0.1) and sgd.at_common["score"].iqm == pytest.approx(0.1)
    assert rms.at_common["score"].n == 1 and rms.at_common["score"].ci is None
    # finished trials only: adam 0.6, 0.7, 0.9; sgd 0.1, 0.2, 0.15; rms 0.35
    assert adam.finished["score"].mean == pytest.approx(2.2 / 3) and adam.finished["score"].n == 3
    assert sgd.finished["score"].mean == pytest.approx(0.15) and rms.finished["score"].mean == pytest.approx(0.35)
    # collapsed: sgd seed 1 (stopped as collapsed) and seed 2 (flagged at its last evaluation)
    assert (adam.collapsed, sgd.collapsed, rms.collapsed) == (0, 2, 0)
    assert sgd.collapse_ci == stats.wilson(2, 4)
    assert rms.outcomes == {"finished": 1, "diverged": 1}
    against_sgd, against_rms = analysis.comparisons["opt=sgd"], analysis.comparisons["opt=rms"]
    # complete separation, 4 seeds a side: p = 2 / C(8, 4) exactly, sgd's tie (0.1 twice) or not (the exact
    # permutation test; scipy's Mann-Whitney falls back to a normal approximation with ties); 4 against 3 could
    # not get under 0.05 (2 / 35)
    assert (against_sgd.p, against_sgd.ci) == (1.0, (1.0, 1.0)) and against_sgd.p_value == pytest.approx(2 / 70)
    assert against_sgd.verdict == "better"
    assert against_rms.p == 1.0 and against_rms.ci is None
    assert against_rms.verdict == "no detectable difference with 4 and 1 seeds"


def test_the_report_files_the_summary_and_the_parent_runs_artifacts(store, built):
    uri, parent, _ = store
    lines, html = built
    assert len(lines) == 7 and lines[-1] == f"Report: {html}"
    assert lines[1].startswith("Best: opt=adam, score 0.575 [")
    assert "better than opt=sgd" in lines[2] and "no detectable difference with 4 and 1 seeds" in lines[2]
    # the same setting leads at the end: said in its line, no line that the bests differ
    assert lines[3].startswith("Best at the end, step 30: opt=adam (also best at the common step), score 0.733 [")
    assert lines[3].endswith("over the 3 of its 4 seeds that ran to it; then opt=sgd: 0.15 over 3 of 4 seeds; not "
                             "ranked (fewer than 2 seeds ran to it): opt=rms: 0.35 over 1 of 2 seeds.")
    assert lines[4] == "P(best > other) at step 30: no detectable difference with 3 seeds against opt=sgd."
    assert "Collapse: 2 of 10 trials; most often opt=sgd, 2/4" in lines[5]
    # the parent run's description in the MLflow UI: the same answer, one paragraph a line, and where the report is
    note = MlflowClient(uri).get_run(parent).data.tags["mlflow.note.content"].split("\n\n")
    assert note[:-1] == lines[:-1]
    assert note[-1] == f"Report: `{html}`, and in this run's artifacts: `report/report.html`."
    text = html.read_text()
    for name in FIGURES:
        assert re.search(rf"<img id='{name}' alt='[^']+' src='data:image/png;base64,[A-Za-z0-9+/=]{{200,}}'>", text)
        assert (html.parent / "figures" / f"{name}.png").stat().st_size > 1000
    md = (html.parent / "report.md").read_text()
    assert "| opt=adam | 4 | 0.575 [" in md and "; IQM 0.55 |" in md
    assert "| opt=sgd | 4 | 3 finished, 1 collapsed | 2/4 [" in md
    assert "## At the end of the budget, step 30" in md and "| opt=rms | 1 of 2 | no | 0.35 |" in md
    assert "1 trial that diverged or failed has no comparable score" in md and "wall-clock" not in md
    logged = {a.path for a in MlflowClient(uri).list_artifacts(parent, "report")}
    assert {"report/report.html", "report/report.md", "report/figures"} <= logged


def test_the_mode_figure_reads_each_trials_last_histogram(store, tmp_path):
    uri, _, _ = store
    client = MlflowClient(uri)
    analysis = analyse(load_study(client, STUDY, None, report_keys(STUDY)))
    read = {}

    def load(run_id):
        read[run_id] = tracking.read_modes(client, run_id, str(tmp_path / run_id))
        return read[run_id]

    assert report_figures.modes(analysis, load).startswith(b"\x89PNG")
    by_name = {(t.setting, t.seed): read[t.run_id] for t in analysis.runs.trials}
    assert by_name[("opt=adam", "3")] == {"step": 30, "counts": [11] * 9 + [0], "real": [10] * 10}
    assert by_name[("opt=adam", "2")]["step"] == 20  # stopped early: the histogram of its last evaluation
    assert by_name[("opt=rms", "0")] is None
    assert list(report_figures.sorted_counts([0, 3, 7, 0, 1])) == [7, 3, 1]  # a line as long as the modes covered
    assert report_figures.modes(analysis, lambda run_id: None) is None  # no trial logged one: no figure


def test_an_older_run_by_name_and_the_command_line(store, tmp_path, capsys):
    uri, _, _ = store
    assert report.main([STUDY, "--run", "old-run", "--tracking-uri", uri, "--out", str(tmp_path / "old")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{STUDY} (old-run): 1 trial in 1 setting; 1 finished."
    assert out[1].endswith("at step 30 (the end of the budget: every compared trial ran to it).")
    assert "nothing to compare" in out[2] and len(out) == 4 and out[-1] == f"Report: {tmp_path / 'old' / 'report.html'}"
    assert report.main([STUDY, "--run", "empty-run", "--tracking-uri", uri, "--out", str(tmp_path / "e")]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [f"{STUDY} (empty-run): 0 trials in 0 settings.",
                                                        "No trial logged a score: nothing to compare."]
    assert report.main(["no_such_study", "--tracking-uri", uri]) == 2
    assert "no MLflow experiment named 'no_such_study'" in capsys.readouterr().err


def test_the_best_at_the_common_step_and_the_best_at_the_end_are_both_named(store, tmp_path):
    uri, _, _ = store
    analysis = analyse(load_study(MlflowClient(uri), "ends", None, report_keys("ends")))
    assert analysis.common_step == 20 and analysis.end_steps == (40,) and not analysis.one_answer
    by_name = {s.setting: s for s in analysis.settings}
    assert [s.setting for s in analysis.settings] == ["ratio=1:1", "ratio=1:2", "ratio=5:1"]  # 0.55, 0.325, 0.25
    # at the end: 1:2 0.825 and 1:1 0.475 over both seeds; 5:1's lone survivor (0.95) is not ranked
    assert [s.setting for s in analysis.ranked_at_end] == ["ratio=1:2", "ratio=1:1"]
    assert by_name["ratio=1:2"].finished["score"].mean == pytest.approx(0.825)
    assert (by_name["ratio=5:1"].at_end, by_name["ratio=5:1"].n) == (1, 2)
    assert list(analysis.end_comparisons) == ["ratio=1:1"] and analysis.end_comparisons["ratio=1:1"].p == 1.0
    lines, html = report.build_report(uri, "ends", None, str(tmp_path / "ends"))
    assert lines[:3] == [
        "ends (ends-1): 6 trials in 3 settings; 5 finished, 1 stopped_early.",
        "Best: ratio=1:1, score 0.55 [0.5, 0.6] over 2 seeds, at step 20 (the largest every compared trial reached).",
        "P(best > other) at step 20: no detectable difference with 2 seeds against ratio=1:2, ratio=5:1."]
    assert lines[3:6] == [
        "Best at the end, step 40: ratio=1:2, score 0.825 [0.8, 0.85] over the 2 of its 2 seeds that ran to it; then "
        "ratio=1:1: 0.475 over 2 of 2 seeds; not ranked (fewer than 2 seeds ran to it): ratio=5:1: 0.95 over 1 of 2 "
        "seeds.",
        "P(best > other) at step 40: no detectable difference with 2 seeds against ratio=1:1.",
        "The two bests differ: best at the common step 20: ratio=1:1; best among those that ran to 40: ratio=1:2."]
    assert len(lines) == 7
    md, page = (Path(html).parent / "report.md").read_text(), Path(html).read_text()
    logged = MlflowClient(uri).download_artifacts(analysis.runs.parent_id, "report/report.md", str(tmp_path))
    for line in lines[:-1]:  # the answer heads report.md, report.html and the parent run's report.md
        assert f"- {line}\n" in md and f"- {line}\n" in Path(logged).read_text()
        assert f"<li>{html_escape(line)}</li>" in page
    assert "| ratio=1:2 | 2 of 2 | yes | 0.825 [0.8, 0.85] |" in md and "| ratio=5:1 | 1 of 2 | no | 0.95 |" in md
    assert md.index("| ratio=1:2 | 2 of 2 |") < md.index("| ratio=1:1 | 2 of 2 |") < md.index("| ratio=5:1 | 1 of 2 |")
    assert "## ratio=1:1 against each other setting at step 20" in md
    assert "## ratio=1:2 against each other setting at step 40" in md


def test_under_fifo_the_common_step_is_the_end_and_the_answer_is_said_once(store, tmp_path):
    uri, _, _ = store
    lines, html = report.build_report(uri, "fifo", None, str(tmp_path / "fifo"))
    assert lines[:-1] == [
        "fifo (fifo-1): 4 trials in 2 settings; 4 finished.",
        "Best: ratio=1:1, score 0.75 [0.7, 0.8] over 2 seeds, at step 40 (the end of the budget: every compared "
        "trial ran to it).",
        "P(best > other) at step 40: no detectable difference with 2 seeds against ratio=1:2."]
    md = (Path(html).parent / "report.md").read_text()
    assert "## Settings compared at step 40, the end of the budget" in md and "At the end of the budget" not in md
    assert md.count("against each other setting") == 1
    analysis = analyse(load_study(MlflowClient(uri), "fifo", None, report_keys("fifo")))
    assert analysis.one_answer and all(not row.finals and row.end_mean is None
                                       for row in report_figures.interval_rows(analysis))


def test_a_mean_curve_is_over_every_seed_and_the_survivors_are_drawn_alone(store):
    """The figures' data: a setting's mean (and range) only where all of its seeds that logged the metric are
    there, never over fewer; past that, each seed still going as its own segment; each seed that did not
    finish marked at its last value with how it ended."""
    uri, _, _ = store
    client = MlflowClient(uri)
    studies = {study: analyse(load_study(client, study, None, report_keys(study))) for study in (STUDY, "ends", "fifo")}
    for analysis in studies.values():
        for setting in analysis.settings:
            for key in ("score", "diversity", "loss_d"):
                parts = report_figures.curve_parts(setting, key)
                logged = [t for t in setting.trials if t.history.get(key)]
                assert parts.seeds == len(logged)
                for step, mean, low, high in zip(parts.steps, parts.mean, parts.low, parts.high):
                    values = [dict(t.history[key])[step] for t in logged]  # every seed has a value there
                    assert (mean, low, high) == pytest.approx((np.mean(values), min(values), max(values)))
                drawn = {t.run_id: set(parts.steps.tolist()) for t in logged}
                for trial, steps, values in parts.survivors:
                    assert steps[0] == parts.steps[-1] and len(steps) > 1  # it goes on from where the mean stops
                    assert values.tolist() == [dict(trial.history[key])[s] for s in steps]
                    drawn[trial.run_id] |= set(steps.tolist())
                assert all(drawn[t.run_id] == {s for s, _ in t.history[key]} for t in logged)  # every point, once
                assert sorted((t.run_id, s, v) for t, s, v in parts.ends) == sorted(
                    (t.run_id, *t.history[key][-1]) for t in logged if t.status != "finished")
    five = {s.setting: s for s in studies["ends"].settings}["ratio=5:1"]
    parts = report_figures.curve_parts(five, "score")
    assert parts.steps.tolist() == [10, 20] and parts.mean == pytest.approx([0.1, 0.25]) and parts.seeds == 2
    [(survivor, steps, values)] = parts.survivors
    assert survivor.seed == "1" and steps.tolist() == [20, 30, 40] and values == pytest.approx([0.3, 0.9, 0.95])
    [(stopped, step, value)] = parts.ends
    assert (stopped.seed, step, value) == ("0", 20, 0.2)
    assert report_figures.end_marker(stopped.status) == ("x", "stopped by ASHA")
    rms = {s.setting: s for s in studies[STUDY].settings}["opt=rms"]  # its seed 1 diverged after one evaluation
    parts = report_figures.curve_parts(rms, "score")
    assert parts.steps.tolist() == [10] and [s.tolist() for _, s, _ in parts.survivors] == [[10, 20, 30]]
    assert [(t.status, s) for t, s, _ in parts.ends] == [("diverged", 10)]
    fifo = report_figures.curve_parts(studies["fifo"].settings[0], "score")
    assert fifo.steps.tolist() == [10, 20, 30, 40] and not fifo.survivors and not fifo.ends
    # the interval plot: each final of a seed that ran to the end, their mean only from two such seeds
    rows = {r.setting.setting: r for r in report_figures.interval_rows(studies["ends"])}
    assert rows["ratio=5:1"].finals == [0.95] and rows["ratio=5:1"].end_mean is None
    assert rows["ratio=5:1"].seeds == pytest.approx([0.2, 0.3])
    assert rows["ratio=1:2"].end_mean == pytest.approx(0.825)
    for analysis in studies.values():
        assert report_figures.curves(analysis).startswith(b"\x89PNG") and report_figures.intervals(analysis)


def test_a_search_study_gets_optunas_importances(store, tmp_path):
    uri, _, _ = store
    analysis = analyse(load_study(MlflowClient(uri), "tune", None, report_keys("tune")))
    assert analysis.runs.searched and len(analysis.settings) == 8
    found = param_importances(analysis)
    assert set(found) == {"loss", "lr_d"} and found["lr_d"] > 0.8
    lines, html = report.build_report(uri, "tune", "tune-1", str(tmp_path / "out"))
    text = Path(html).read_text()
    assert "<img id='importances'" in text and "<img id='best_so_far'" in text


# ---------------------------------------------------------------- Chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PROBE = """<script>window.addEventListener('load', () => {
  const sizes = [...document.images].map(i => i.complete ? i.naturalWidth + 'x' + i.naturalHeight : 'pending');
  document.body.setAttribute('data-loaded', sizes.join(','));
});</script></body>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("headless Chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    return found


def run_chromium(tmp_path, *args):
    profile = tmp_path / f"profile{len(list(tmp_path.iterdir()))}"
    proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_chromium_renders_the_report_with_every_figure_loaded(built, tmp_path):
    from PIL import Image

    _, html = built
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text().replace("</body>", PROBE))
    dom = run_chromium(tmp_path, "--dump-dom", probe.as_uri())
    sizes = re.search(r'data-loaded="([^"]*)"', dom).group(1).split(",")
    assert len(sizes) == len(FIGURES) and all(re.fullmatch(r"[1-9]\d*x[1-9]\d*", s) for s in sizes), sizes
    shot = tmp_path / "shot.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2400", html.as_uri())
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (2400, 1200) and pixels.std() > 10  # text, tables and figures, not a blank page
    assert (pixels < 128).mean() > 0.005


# a search study's settings: each trial is its own, named by every parameter it drew
LONG = [f"loss={loss} real_label_low=0.{i}31 lr_d=0.000{i}23 lr_g=0.000{i}97 beta1=0.5 d_steps={i % 5 + 1} "
        f"norm_d=spectral" for i, loss in enumerate(["minimax", "hinge", "bce", "lsgan"] * 3)]


@pytest.mark.parametrize("count", [2, len(LONG)])
def test_figures_of_long_setting_names_keep_their_axes_and_every_name(tmp_path, count):
    """Long setting names (a search study's) are wrapped, and the figure grows with them and with the number
    of settings, so matplotlib never gives up its layout (it warns "axes sizes collapsed to zero") and each
    name is on the figure whole."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    log_ends(client, tmp_path, "long", {name: [(0, "finished", [0.1, 0.2, 0.3, 0.4]), (1, "stopped_early", [0.2, 0.3])
                                               if i == 0 else (1, "finished", [0.2, 0.3, 0.4, 0.5])]
                                        for i, name in enumerate(LONG[:count])})
    analysis = analyse(load_study(client, "long", None, report_keys("long")))
    assert len(analysis.settings) == count and analysis.common_step == 20 and not analysis.one_answer
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "constrained_layout not applied" is a UserWarning
        for figure in (report_figures.intervals, report_figures.curves, report_figures.losses):
            assert figure(analysis).startswith(b"\x89PNG"), figure.__name__
        assert report_figures.modes(analysis, lambda run_id: {"step": 40, "counts": [5, 3, 0], "real": [3, 3, 3]})
    for name in LONG[:count]:
        assert report_figures.wrap(name).replace("\n", " ") == name and max(
            map(len, report_figures.wrap(name).split("\n"))) <= report_figures.WRAP
