"""A study's answer, from what it left in MLflow: statistics over seeds per
setting, the best setting at the common step (the largest every compared
trial reached) and the best at the end of the budget, each against the other
settings with a verdict, the curves, the sample grids over time, and for
search studies Optuna's parameter importances.

    python -m studies.report dg_ratio                        # the newest dg_ratio run
    python -m studies.report dg_ratio --run dg_ratio-20250101-120000 --tracking-uri http://10.0.0.5:5000
    python -m studies.report --findings loss_family-20250101-120000 dg_ratio-20250102-090000   # FINDINGS.md

It reads only the tracking store (the study's experiment, its parent run, the
child runs' metric histories and sample images), so it works against a
cluster's server and for studies finished long ago. It writes `report.html`
(self-contained), `report.md` and `figures/*.png` to a folder (default
`reports/<parent run name>`), logs them under `report/` in the parent run,
and prints two to seven lines of answer (the top of report.md and
report.html too) and the report's path; the same lines become the parent
run's description, which its page in the MLflow UI shows. A study driver
calls `build_report` at its end. `--findings` writes FINDINGS.md, the verdict
on each classic claim, from the study runs it names (`studies.report.findings`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

from mlflow.tracking import MlflowClient

from studies.report import findings, findings_page, sources as findings_runs, figures as report_figures, pbt as report_pbt, search as report_search
from studies.declare import locations
from studies.run import runs_table, stores, tracking
from studies.report.analysis import MIN_AT_END, SCORED, Analysis, SettingStats, analyse, report_keys
from studies.report.page import Figure, end_place, interval, markdown, num, page
from studies.report.runs import load_study

ARTIFACT_DIR = "report"  # where the report goes among the parent run's artifacts
LISTED = 3  # settings named per verdict in the terminal summary


def figures(analysis: Analysis, client: MlflowClient, scratch: str) -> list[Figure]:
    """Every figure the study's records allow, in reading order."""
    def load_image(run_id: str, path: str):
        import matplotlib.image

        return matplotlib.image.imread(tracking.download(client, run_id, path, os.path.join(scratch, run_id)))

    def load_modes(run_id: str):
        return tracking.read_modes(client, run_id, os.path.join(scratch, run_id))

    step = f"{analysis.common_step:,}" if analysis.common_step is not None else "-"
    end = ("" if analysis.one_answer or not analysis.end_steps else
           f"; each final score of a seed that ran its whole budget, to {end_place(analysis)} (red ticks), and their "
           f"mean (open red diamond) only where {MIN_AT_END} or more seeds did. A row's label gives the seeds at "
           "the common step (n) and how many of its seeds ran to the end")
    shapes = {"s": "square", "P": "plus", "*": "star"}
    marks = ", ".join(f"{shapes.get(m, m)} {text}" for m, text in report_figures.end_markers(analysis))
    planned = [
        ("intervals", "Score by setting", f"Mean (diamond) and 95% bootstrap interval (bar) of the score at step "
         f"{step}, each seed (grey dots){end}.",
         lambda: report_figures.intervals(analysis)),
        ("curves", "Score, diversity and quality against step", "Per setting, the mean over all of its seeds "
         "(thick) and their range (band), drawn only over the steps where every seed is there, so it never "
         "turns into the curve of the seeds that remain; past that, each remaining seed as its own thin line."
         + (f" Each trial that ended short of its budget is marked where it ended: {marks}." if marks else ""),
         lambda: report_figures.curves(analysis)),
        ("samples", "Sample grids over training", "Each setting's sample grid at four evaluation steps, one seed.",
         lambda: report_figures.samples(analysis, load_image)),
        ("modes", "Generated modes at the last evaluation", "Samples per known mode at each trial's last "
         "evaluation, modes sorted from most to least drawn (log scale), one line per seed; dashed grey: the "
         "real reference set of the same size. A line ends where its modes run out, so its length is the modes "
         "covered: a collapsed trial's line is short and starts high.",
         lambda: report_figures.modes(analysis, load_modes)),
        ("losses", "Losses against step", "loss_d and loss_g, drawn as the curves above: the mean over all of "
         "a setting's seeds while every seed is there, then each remaining seed alone.",
         lambda: report_figures.losses(analysis)),
        ("schedules", "PBT schedules against work", "The learning rates and D:G ratio each member trained with, "
         "from its logged hyper-parameters; circles: exploits (the member copied another's checkpoint there).",
         lambda: report_pbt.schedules(analysis)),
    ]
    if analysis.runs.searched:
        planned += [
            ("importances", "Parameter importances", "Optuna's fANOVA importances on a study rebuilt from the "
             f"child runs (parameters from their setting, value: score at step {step}).",
             lambda: report_search.importances(analysis)),
            ("best_so_far", "Best score against trial number", f"Each trial's score at step {step} and the best "
             "so far, trials in the order they started.", lambda: report_search.best_so_far(analysis)),
        ]
    made = [(name, title, caption, draw()) for name, title, caption, draw in planned]
    return [Figure(name, title, caption, data) for name, title, caption, data in made if data]


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(settings: list[str]) -> str:
    shown = ", ".join(settings[:LISTED])
    return shown + (f" and {len(settings) - LISTED} more" if len(settings) > LISTED else "")


def _verdicts(comparisons: dict, step: str) -> str | None:
    by_verdict: dict[str, list[str]] = {}
    for other, comparison in comparisons.items():
        by_verdict.setdefault(comparison.verdict, []).append(other)
    if not by_verdict:
        return None
    return f"P(best > other) at {step}: " + "; ".join(
        f"{verdict} than {_names(others)}" if verdict in ("better", "worse") else f"{verdict} against {_names(others)}"
        for verdict, others in by_verdict.items()) + "."


def at_end(setting: SettingStats) -> str:
    """"bce 1:2: 0.42 over 2 of 2 seeds": its mean final score and how many of its seeds ran to the end."""
    seeds = f"{setting.at_end} of {plural(setting.n, 'seed')}"
    return f"{setting.setting}: {num(setting.finished['score'].mean)} over {seeds}" if setting.at_end else \
        f"{setting.setting}: {seeds}"


def end_lines(analysis: Analysis) -> list[str]:
    """The answer at the end of the budget: the best among the settings with MIN_AT_END or more seeds that ran
    to it, every setting's seeds there, P(best > other) there, and a line when it is not the common step's best."""
    if not analysis.end_steps:
        return ["No trial ran its whole budget: no answer at the end."]
    place, ranked = end_place(analysis), analysis.ranked_at_end
    unranked = [at_end(s) for s in analysis.settings if s not in ranked]
    rest = f"; not ranked (fewer than {MIN_AT_END} seeds ran to it): {_names(unranked)}" if unranked else ""
    best, best_end = analysis.best, analysis.best_at_end
    if best_end is None:
        return [f"At the end, {place}, no setting has {MIN_AT_END} or more seeds that ran to it{rest}."]
    score = best_end.finished["score"]
    same = " (also best at the common step)" if best_end is best else ""
    then = f"; then {_names([at_end(s) for s in ranked[1:]])}" if len(ranked) > 1 else ""
    lines = [f"Best at the end, {place}: {best_end.setting}{same}, score {num(score.mean)}{interval(score.ci)} "
             f"over the {best_end.at_end} of its {plural(best_end.n, 'seed')} that ran to it{then}{rest}."]
    lines.append(_verdicts(analysis.end_comparisons, place)
                 or f"Only {best_end.setting} has {MIN_AT_END} or more seeds at the end: nothing to compare it "
                 "with there.")
    if best_end is not best:
        ended = f"{analysis.end_step:,}" if analysis.end_step is not None else "the end of their budgets"
        lines.append(f"The two bests differ: best at the common step {analysis.common_step:,}: {best.setting}; "
                     f"best among those that ran to {ended}: {best_end.setting}.")
    return lines


def summary_lines(analysis: Analysis) -> list[str]:
    """Two to seven lines: what ran, the best setting at the common step and its verdicts, the best at the end
    of the budget and its verdicts (unless the common step is the end), collapses."""
    runs, best = analysis.runs, analysis.best
    counts = {o: sum(t.status == o for t in runs.trials) for o in dict.fromkeys(t.status for t in runs.trials)}
    ended = "; " + ", ".join(f"{n} {o}" for o, n in counts.items()) if counts else ""
    lines = [f"{runs.study} ({runs.parent_name}): {plural(len(runs.trials), 'trial')} in "
             f"{plural(len(analysis.settings), 'setting')}{ended}."]
    if best is None:
        return lines + ["No trial logged a score: nothing to compare."]
    score, step = best.at_common["score"], analysis.common_step
    where = ("the end of the budget: every compared trial ran to it" if analysis.one_answer else
             "the largest every compared trial reached")
    lines.append(f"Best: {best.setting}, score {num(score.mean)}{interval(score.ci)} over {plural(score.n, 'seed')}, "
                 f"at step {step:,} ({where}).")
    lines.append(_verdicts(analysis.comparisons, f"step {step:,}")
                 or "Only one setting has a score: nothing to compare it with.")
    if not analysis.one_answer:
        lines += end_lines(analysis)
    collapsed = sum(s.collapsed for s in analysis.settings)
    if collapsed:
        worst = max(analysis.settings, key=lambda s: s.collapsed / s.n)
        lines.append(f"Collapse: {collapsed} of {len(runs.trials)} trials; most often {worst.setting}, "
                     f"{worst.collapsed}/{worst.n} [{num(worst.collapse_ci[0])}, {num(worst.collapse_ci[1])}].")
    return lines


def caveats(analysis: Analysis) -> list[str]:
    notes = []
    if any(float(t.params.get("max_steps", 1) or 0) == 0 for t in analysis.runs.trials):
        notes.append("Time was the budget (max_steps 0), so equal steps are not equal time: a costlier round "
                     "reaches fewer steps, and the answer depends on the machine.")
    capped = [t for t in analysis.runs.trials if t.status == "out_of_time"]
    if capped:
        notes.append(f"{plural(len(capped), 'trial')} hit the wall-clock safety cap before its budget: "
                     "compare them at the common step only.")
    left_out = [t for t in analysis.runs.trials if t.status not in SCORED]
    if left_out:
        notes.append(f"{plural(len(left_out), 'trial')} that diverged or failed {'has' if len(left_out) == 1 else 'have'} "
                     "no comparable score: counted in the outcomes and the collapse rate only.")
    return notes


def build_report(tracking_uri: str, study_name: str, parent_run_id: str | None = None,
                 out_dir: str | None = None, log_to_run: bool = True) -> tuple[list[str], str]:
    """Build the report of one study run (the newest when parent_run_id, a run id or name, is None),
    write it to out_dir (default reports/<parent run name>), log it under `report/` in the parent run.
    Returns the terminal's answer lines (the last one names the report) and the path of report.html."""
    client = MlflowClient(tracking_uri)
    analysis = analyse(load_study(client, study_name, parent_run_id, report_keys(study_name)))
    runs = analysis.runs
    out_dir = os.path.abspath(out_dir or os.path.join("reports", runs.parent_name))
    answer = summary_lines(analysis)
    view = runs_table.view_id(runs.parent_name) if runs_table.has_view(client, runs.experiment_id,
                                                                         runs.parent_name) else None
    with tempfile.TemporaryDirectory() as scratch:  # only the report's own files reach out_dir and the run
        drawn = figures(analysis, client, os.path.join(scratch, "images"))
        staged = os.path.join(scratch, "report")
        write_report(staged, analysis, answer + caveats(analysis), drawn,
                     tracking.ui_hint(tracking_uri, runs.experiment_id, view))
        if log_to_run:
            tracking.retry(client.log_artifacts, runs.parent_id, staged, ARTIFACT_DIR)
        shutil.copytree(staged, out_dir, dirs_exist_ok=True)
    html_path = os.path.join(out_dir, "report.html")
    if log_to_run:  # the parent run's page in the MLflow UI says the answer
        runs_table.describe(client, runs.parent_id, answer + [
            f"Report: `{html_path}`, and in this run's artifacts: `{ARTIFACT_DIR}/report.html`."])
    return answer + [f"Report: {html_path}"], html_path


def write_report(folder: str, analysis: Analysis, notes: list[str], drawn: list[Figure], ui: str) -> None:
    """report.html, report.md and figures/<name>.png into folder."""
    os.makedirs(os.path.join(folder, "figures"))
    for fig in drawn:
        with open(os.path.join(folder, "figures", f"{fig.name}.png"), "wb") as f:
            f.write(fig.png)
    with open(os.path.join(folder, "report.html"), "w") as f:
        f.write(page(analysis, notes, drawn, ui))
    with open(os.path.join(folder, "report.md"), "w") as f:
        f.write(markdown(analysis, notes, drawn, ui))


def make_findings(refs: list[str], tracking_uri: str, out: str) -> list[str]:
    """FINDINGS.md from the runs named, and their exports beside it; the terminal's lines."""
    def client():
        stores.check_server(tracking_uri)
        return MlflowClient(tracking_uri)

    sources = findings_runs.load_sources(client, refs)
    try:
        path, exported = findings_page.write(sources, out, findings_page.generated_command(refs, out))
    except findings.FindingsError as err:
        raise ValueError(f"--findings: {err}") from None
    return findings_page.summary(sources) + [f"Findings: {os.path.abspath(path)} (runs exported to "
                                        f"{os.path.dirname(os.path.abspath(exported[0]))})"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m studies.report", description=__doc__.split("\n\n")[0])
    p.add_argument("study", nargs="?", help="the study's name (its MLflow experiment), e.g. dg_ratio")
    p.add_argument("--run", help="the parent run's name or id (default: the newest)")
    p.add_argument("--tracking-uri", default=locations.default_tracking_uri(), type=locations.tracking_uri,
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else ./mlflow.db)")
    p.add_argument("--out", help="folder for the report (default: reports/<parent run name>); with --findings, "
                   "the document (default: FINDINGS.md)")
    p.add_argument("--findings", nargs="+", metavar="RUN", help="write FINDINGS.md from these study runs: parent "
                   "run names or ids in the store, or runs exported to findings/*.json by an earlier --findings")
    args = p.parse_args(argv)
    if (args.study is None) == (args.findings is None):
        p.error("give a study's name, or --findings with the runs to read (not both)")
    try:
        if args.findings:
            lines = make_findings(args.findings, args.tracking_uri, args.out or "FINDINGS.md")
        else:
            stores.check_server(args.tracking_uri)
            lines, _ = build_report(args.tracking_uri, args.study, args.run, args.out)
    except ValueError as err:
        print(f"python -m studies.report: error: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
