"""The numbers of a study report: per setting, statistics over seeds (see
`studies.stats`) of what the trials logged, and the best setting against each
other setting.

Early stops are censored data, not results: a trial ASHA stopped at its rung
has not lost to one that ran to the end. So settings are compared on
each trial's value at the largest step that every compared trial reached
(its last evaluation at or before that step), and the finals of the trials
that ran their whole budget are shown beside it, labelled as such. Trials
that diverged or failed have no comparable score: they count in the outcomes
and the collapse rate, not in the score statistics.
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from dataclasses import dataclass

from studies import stats
from studies.report_runs import StudyRuns, Trial

COMMON = ("score", "diversity", "quality", "modes_covered")  # every study's columns
FEATURE_METRICS = ("kid", "fd")  # sample-set metrics shown where a study logged them
LOSSES = ("loss_d", "loss_g")
SCHEDULE = ("lr_d", "lr_g", "d_steps", "g_steps", "exploit_from")  # the hyper-parameters PBT runs log
SCORED = ("finished", "stopped_early", "collapsed", "out_of_time", "running", "unknown")  # outcomes with a comparable score
OUTCOMES = ("finished", "stopped_early", "collapsed", "diverged", "error", "running", "unknown")


@dataclass
class SettingStats:
    setting: str
    trials: list[Trial]
    outcomes: Counter
    at_common: dict[str, stats.Summary]  # column -> summary over seeds, at the common step
    finished: dict[str, stats.Summary]  # column -> summary over the trials that ran their whole budget
    collapsed: int  # trials that ended collapsed or were flagged collapsed at their last evaluation
    collapse_ci: stats.Interval  # Wilson interval of collapsed / len(trials)

    @property
    def n(self) -> int:
        return len(self.trials)


@dataclass
class Analysis:
    runs: StudyRuns
    columns: tuple[str, ...]  # the metrics summarised, score first
    common_step: int | None  # the largest step every compared trial reached
    settings: list[SettingStats]  # best first (mean score at the common step)
    comparisons: dict[str, stats.Comparison]  # other setting -> P(best > other) on the common-step score

    @property
    def best(self) -> SettingStats | None:
        return self.settings[0] if self.settings and "score" in self.settings[0].at_common else None


def study_columns(study: str) -> tuple[str, ...]:
    """The metrics a study declares for its question (its `STUDY.columns`); none for an unknown study."""
    if not study.isidentifier():
        return ()
    try:
        module = importlib.import_module(f"studies.{study}")
    except ImportError:
        return ()
    return tuple(getattr(getattr(module, "STUDY", None), "columns", ()))


def report_keys(study: str) -> tuple[str, ...]:
    """Every metric history a report reads."""
    return tuple(dict.fromkeys(COMMON + study_columns(study) + FEATURE_METRICS + LOSSES + ("collapsed",)
                               + SCHEDULE))


def columns_of(study: str, trials: list[Trial]) -> tuple[str, ...]:
    """The common columns and the study's own, those that some trial logged."""
    wanted = dict.fromkeys(COMMON + study_columns(study) + FEATURE_METRICS)
    return tuple(c for c in wanted if any(c in t.history for t in trials))


def common_step(trials: list[Trial]) -> int | None:
    """The largest step every trial with a comparable score reached."""
    last = [t.last_step() for t in trials if t.status in SCORED and "score" in t.history]
    return min(last) if last else None


def ended_collapsed(trial: Trial) -> bool:
    return trial.status == "collapsed" or trial.final("collapsed") == 1.0


def summaries(values: dict[str, list[float]]) -> dict[str, stats.Summary]:
    finite = {key: [x for x in v if math.isfinite(x)] for key, v in values.items()}
    return {key: stats.summarize(v) for key, v in finite.items() if v}


def setting_stats(setting: str, trials: list[Trial], columns: tuple[str, ...], step: int | None) -> SettingStats:
    scored = [t for t in trials if t.status in SCORED]
    at_common = {c: [v for t in scored if step is not None and (v := t.at(c, step)) is not None] for c in columns}
    finished = {c: [v for t in scored if t.status == "finished" and (v := t.final(c)) is not None]
                for c in columns}
    collapsed = sum(ended_collapsed(t) for t in trials)
    return SettingStats(setting, trials, Counter(t.status for t in trials), summaries(at_common),
                        summaries(finished), collapsed, stats.wilson(collapsed, len(trials)))


def at_common_scores(setting: SettingStats, step: int) -> list[float]:
    return [v for t in setting.trials if t.status in SCORED and (v := t.at("score", step)) is not None]


def analyse(runs: StudyRuns) -> Analysis:
    """Per-setting statistics, best setting first, and P(best > other) for every other setting."""
    columns = columns_of(runs.study, runs.trials)
    step = common_step(runs.trials)
    groups: dict[str, list[Trial]] = {}
    for trial in runs.trials:
        groups.setdefault(trial.setting, []).append(trial)
    settings = [setting_stats(name, trials, columns, step) for name, trials in groups.items()]
    settings.sort(key=lambda s: -s.at_common["score"].mean if "score" in s.at_common else float("inf"))
    analysis = Analysis(runs, columns, step, settings, {})
    best = analysis.best
    if best is not None:
        ours = at_common_scores(best, step)
        for other in settings[1:]:
            theirs = at_common_scores(other, step)
            if theirs:
                analysis.comparisons[other.setting] = stats.compare(ours, theirs)
    return analysis
