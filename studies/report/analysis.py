"""The numbers of a study report: per setting, statistics over seeds (see
`studies.report.stats`) of what the trials logged, and the best setting against each
other setting, at two places.

Early stops are censored data, not results: a trial ASHA stopped at its rung
has not lost to one that ran to the end. So settings are compared on
each trial's value at the largest step that every compared trial reached
(its last evaluation at or before that step): the common step. A setting
that is behind there can still finish ahead, so the end of the budget gets
its own answer: the mean final value over the seeds that ran their whole
budget, with how many of the setting's seeds those are. A setting is ranked
there only with at least MIN_AT_END such seeds: one survivor's value is not
a mean. Under FIFO, with no early stops, every compared trial ran to the end,
the common step is the end, and there is one answer (`Analysis.one_answer`).
Trials that diverged or failed have no comparable score: they count in the
outcomes and the collapse rate, not in the score statistics.
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from dataclasses import dataclass, field

from studies.report import stats, verdicts
from studies.report.runs import StudyRuns, Trial

COMMON = ("score", "diversity", "quality", "modes_covered")  # every study's columns
FEATURE_METRICS = ("kid", "fd")  # sample-set metrics shown where a study logged them
LOSSES = ("loss_d", "loss_g")
SCHEDULE = ("lr_d", "lr_g", "d_steps", "g_steps", "exploit_from")  # the hyper-parameters PBT runs log
SCORED = ("finished", "stopped_early", "collapsed", "out_of_time", "running", "unknown")  # outcomes with a comparable score
OUTCOMES = ("finished", "stopped_early", "collapsed", "diverged", "error", "running", "unknown")
MIN_AT_END = 2  # seeds that ran the whole budget a setting needs to be ranked and compared at the end


@dataclass
class SettingStats:
    setting: str
    trials: list[Trial]
    outcomes: Counter
    at_common: dict[str, stats.Summary]  # column -> summary over seeds, at the common step
    finished: dict[str, stats.Summary]  # column -> summary of the finals of the trials that ran their whole budget
    collapsed: int  # trials that ended collapsed or were flagged collapsed at their last evaluation
    collapse_ci: stats.Interval  # Wilson interval of collapsed / len(trials)

    @property
    def n(self) -> int:
        return len(self.trials)

    @property
    def at_end(self) -> int:
        """How many of its seeds ran the whole budget with a score: the seeds its mean at the end is over."""
        return self.finished["score"].n if "score" in self.finished else 0


@dataclass
class Analysis:
    runs: StudyRuns
    columns: tuple[str, ...]  # the metrics summarised, score first
    common_step: int | None  # the largest step every compared trial reached
    settings: list[SettingStats]  # best first (mean score at the common step)
    comparisons: dict[str, verdicts.Comparison]  # other setting -> P(best > other) on the common-step score
    end_steps: tuple[int, ...] = ()  # the distinct last steps of the trials that ran their whole budget, ascending
    ranked_at_end: list[SettingStats] = field(default_factory=list)  # MIN_AT_END or more seeds there, best first
    end_comparisons: dict[str, verdicts.Comparison] = field(default_factory=dict)  # P(best at end > other) on finals
    one_answer: bool = False  # every compared trial ran its whole budget to the common step: it is the end

    @property
    def best(self) -> SettingStats | None:
        return self.settings[0] if self.settings and "score" in self.settings[0].at_common else None

    @property
    def best_at_end(self) -> SettingStats | None:
        """The setting with the highest mean final score among those with MIN_AT_END seeds that ran to the end."""
        return self.ranked_at_end[0] if self.ranked_at_end else None

    @property
    def end_step(self) -> int | None:
        """The step every trial that ran its whole budget ended at; None when there is none or they differ
        (a time budget)."""
        return self.end_steps[0] if len(self.end_steps) == 1 else None


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


def ran_to_end(trial: Trial) -> bool:
    """Whether the trial ran its whole budget and logged a score."""
    return trial.status == "finished" and bool(trial.history.get("score"))


def end_scores(setting: SettingStats) -> list[float]:
    """The final score of each of its seeds that ran the whole budget."""
    return [v for t in setting.trials if ran_to_end(t) and math.isfinite(v := t.final("score"))]


def one_answer(trials: list[Trial], step: int | None, end_steps: tuple[int, ...]) -> bool:
    """True when every trial compared at the common step ran its whole budget and ended there."""
    compared = [t for t in trials if t.status in SCORED and step is not None and t.at("score", step) is not None]
    return bool(compared) and end_steps == (step,) and all(ran_to_end(t) for t in compared)


def analyse(runs: StudyRuns) -> Analysis:
    """Per-setting statistics, best setting first, and P(best > other) for every other setting at the common
    step; the settings ranked at the end, and P(best there > other) for each other one ranked there."""
    columns = columns_of(runs.study, runs.trials)
    step = common_step(runs.trials)
    groups: dict[str, list[Trial]] = {}
    for trial in runs.trials:
        groups.setdefault(trial.setting, []).append(trial)
    settings = [setting_stats(name, trials, columns, step) for name, trials in groups.items()]
    settings.sort(key=lambda s: -s.at_common["score"].mean if "score" in s.at_common else float("inf"))
    end_steps = tuple(sorted({t.history["score"][-1][0] for t in runs.trials if ran_to_end(t)}))
    ranked = sorted((s for s in settings if s.at_end >= MIN_AT_END), key=lambda s: -s.finished["score"].mean)
    analysis = Analysis(runs, columns, step, settings, {}, end_steps, ranked, {},
                        one_answer(runs.trials, step, end_steps))
    best = analysis.best
    if best is not None:
        ours = at_common_scores(best, step)
        for other in settings[1:]:
            theirs = at_common_scores(other, step)
            if theirs:
                analysis.comparisons[other.setting] = verdicts.compare(ours, theirs)
    if ranked:
        ours = end_scores(ranked[0])
        for other in ranked[1:]:
            analysis.end_comparisons[other.setting] = verdicts.compare(ours, end_scores(other))
    return analysis
