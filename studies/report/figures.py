"""The figures of a study report, drawn headless (matplotlib's Agg canvas, no
pyplot state): each function takes an `Analysis` and returns one PNG as
bytes, or None when the study logged nothing to draw.

    curves        score, diversity, quality against step: per setting, the mean and range over its
                  seeds while every seed is there, then each remaining seed's own thin line; each
                  trial that ended before its budget is marked where it ended, by how (`curve_parts`)
    losses        loss_d and loss_g against step, drawn the same way
    samples       each setting's sample grid at four steps side by side (one seed; for 2-D data the
                  scatter of generated over real points)
    modes         datasets with known modes: samples per mode at each trial's last evaluation, modes
                  sorted from most to least drawn, beside the real reference set's
    intervals     one row per setting: mean and 95% interval of the common-step score, each seed,
                  each final score of the seeds that ran their whole budget, and their mean where
                  MIN_AT_END or more did
    importances   Optuna's parameter importances (search studies)
    best_so_far   each trial's score and the best so far against trial number (search studies)
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from studies.report.analysis import (MIN_AT_END, Analysis, SettingStats, Trial, at_common_scores,  # noqa: E402
                                     end_scores)
from studies.report.page import end_place  # noqa: E402

DPI = 100
STOP_MARKERS = {"stopped_early": ("x", "stopped by ASHA"), "collapsed": ("v", "stopped as collapsed")}
END_MARKERS = {**STOP_MARKERS, "diverged": ("*", "diverged"), "out_of_time": ("s", "hit the wall-clock cap")}
OTHER_END = ("P", "ended otherwise (failed, still running or unknown)")  # any other outcome short of finished
PANEL_STEPS = 4  # sample grids per setting
WRAP = 60  # characters on a line of a setting's name in a figure, at most: a search study's names are long
CHAR_INCHES = 0.065  # width of a character of an 8-point label, about
LINE_INCHES = 0.17  # height of a line of an 8-point label, about


def wrap(text: str, width: int = WRAP) -> str:
    """`text` on lines of at most `width` characters, broken at spaces only."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    return out.getvalue()


def colours(analysis: Analysis) -> dict[str, tuple]:
    cmap = matplotlib.colormaps["tab10" if len(analysis.settings) <= 10 else "tab20"]
    return {s.setting: cmap(i % cmap.N) for i, s in enumerate(analysis.settings)}


@dataclass
class CurveParts:
    """What a setting's curve of one metric is drawn from. The mean (and the range) only where every one of
    its seeds that logged the metric has a value, so it never silently becomes a one-seed curve when a seed
    stops; past the last such step, each seed still going as its own line; each seed that ended short of its
    budget, its last value and how it ended."""

    seeds: int  # how many seeds every point of the mean is over: all of the setting's seeds that logged the metric
    steps: np.ndarray  # the steps where all of them have a value
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    survivors: list[tuple[Trial, np.ndarray, np.ndarray]]  # (trial, steps, values) from the mean's last step on
    ends: list[tuple[Trial, int, float]]  # (trial, last step, last value) of each trial that did not finish


def curve_parts(setting: SettingStats, key: str) -> CurveParts:
    """The mean segment, the survivors' segments and the marked ends of one setting's `key` curve."""
    trials = [t for t in setting.trials if t.history.get(key)]
    histories = [dict(t.history[key]) for t in trials]
    shared = sorted(set.intersection(*(set(h) for h in histories))) if histories else []
    rows = np.array([[h[s] for h in histories] for s in shared]).reshape(len(shared), max(1, len(histories)))
    last = shared[-1] if shared else None
    survivors = []
    for trial, history in zip(trials, histories):
        later = [s for s in sorted(history) if last is None or s >= last]
        if later and later[-1] != last:
            survivors.append((trial, np.array(later), np.array([history[s] for s in later])))
    ends = [(t, *t.history[key][-1]) for t in trials if t.status != "finished"]
    return CurveParts(len(trials), np.array(shared), rows.mean(axis=1), rows.min(axis=1, initial=np.inf),
                      rows.max(axis=1, initial=-np.inf), survivors, ends)


def end_marker(status: str) -> tuple[str, str]:
    return END_MARKERS.get(status, OTHER_END)


def end_markers(analysis: Analysis, keys: tuple[str, ...] = ("score", "diversity", "quality")) -> list[tuple[str, str]]:
    """The (marker, meaning) of every kind of end the step figures of `keys` mark, in legend order."""
    used = {end_marker(t.status) for t in analysis.runs.trials
            if t.status != "finished" and any(t.history.get(k) for k in keys)}
    return [m for m in (*END_MARKERS.values(), OTHER_END) if m in used]


def _plot_key(ax, analysis: Analysis, key: str, colour: dict) -> set[str]:
    """Draw one metric's panel; the end markers it used (their legend texts)."""
    used: set[str] = set()
    for setting in analysis.settings:
        parts = curve_parts(setting, key)
        if not parts.seeds:
            continue
        c = colour[setting.setting]
        ax.plot(parts.steps, parts.mean, color=c, label=wrap(setting.setting), lw=1.8)
        if parts.seeds > 1:
            ax.fill_between(parts.steps, parts.low, parts.high, color=c, alpha=0.15, lw=0)
        for _, steps, values in parts.survivors:
            ax.plot(steps, values, color=c, lw=0.8, alpha=0.9)
        for trial, step, value in parts.ends:
            marker, text = end_marker(trial.status)
            ax.plot([step], [value], marker, color=c, ms=8, mew=2, mfc="none" if marker in "sP*" else c)
            used.add(text)
    ax.set_title(key)
    ax.set_xlabel("step")
    return used


def _legend(fig: Figure, ax, used: set[str]) -> None:
    handles, labels = ax.get_legend_handles_labels()
    handles.append(matplotlib.lines.Line2D([], [], color="0.3", lw=0.8))
    labels.append("one seed, after another of its setting ended")
    for marker, text in (*END_MARKERS.values(), OTHER_END):
        if text in used:
            handles.append(matplotlib.lines.Line2D([], [], ls="", marker=marker, color="0.3", ms=8, mew=2,
                                                   mfc="none" if marker in "sP*" else "0.3"))
            labels.append(text)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)


CURVES_TITLE = ("thick: mean over all of a setting's seeds, band: their range, while every seed is there; "
                "thin: each seed still going after one ended")


def _step_panels(analysis: Analysis, keys: tuple[str, ...], title: str) -> bytes | None:
    keys = tuple(k for k in keys if any(k in t.history for t in analysis.runs.trials))
    if not keys:
        return None
    # the legend below the panels: three settings a row, each row as tall as its longest wrapped name
    names = [wrap(s.setting).count("\n") + 1 for s in analysis.settings]
    legend = sum(max(names[i:i + 3]) for i in range(0, len(names), 3)) * LINE_INCHES
    fig = Figure(figsize=(4.2 * len(keys), 3.9 + legend), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    colour = colours(analysis)
    used = set().union(*(_plot_key(ax, analysis, key, colour) for ax, key in zip(axes, keys)))
    _legend(fig, axes[0], used)
    fig.suptitle(title, fontsize=10)
    return png(fig)


def curves(analysis: Analysis) -> bytes | None:
    return _step_panels(analysis, ("score", "diversity", "quality"), CURVES_TITLE)


def losses(analysis: Analysis) -> bytes | None:
    return _step_panels(analysis, ("loss_d", "loss_g"), "losses; " + CURVES_TITLE)


def panel_steps(steps: list[int], count: int = PANEL_STEPS) -> list[int]:
    """`count` steps spread evenly over the logged ones, first and last included."""
    if len(steps) <= count:
        return steps
    return [steps[round(i * (len(steps) - 1) / (count - 1))] for i in range(count)]


def samples(analysis: Analysis, load_image: Callable[[str, str], np.ndarray]) -> bytes | None:
    """Rows: settings; columns: four steps of one seed's sample grids. load_image(run_id, path) -> array."""
    rows = []
    for setting in analysis.settings:
        with_images = [t for t in setting.trials if t.images]
        if with_images:
            trial = min(with_images, key=lambda t: (int(t.seed) if t.seed.isdigit() else 1 << 30, t.run_id))
            rows.append((setting.setting, trial, panel_steps(sorted(trial.images))))
    if not rows:
        return None
    fig = Figure(figsize=(2.4 * PANEL_STEPS, 2.5 * len(rows)))
    axes = fig.subplots(len(rows), PANEL_STEPS, squeeze=False)
    for (setting, trial, steps), row in zip(rows, axes):
        for ax in row:
            ax.axis("off")
        for ax, step in zip(row, steps):
            ax.imshow(load_image(trial.run_id, trial.images[step]))
            ax.set_title(f"step {step}", fontsize=8)
        row[0].text(-0.05, 0.5, f"{wrap(setting, 40)}\nseed {trial.seed or '-'}", transform=row[0].transAxes,
                    ha="right", va="center", fontsize=8)
    return png(fig)


def sorted_counts(counts: list[int]) -> np.ndarray:
    """The non-empty modes' counts, largest first: the line's length is the number of modes covered."""
    values = np.sort(np.asarray(counts, dtype=float))[::-1]
    return values[values > 0]


def modes(analysis: Analysis, load_modes: Callable[[str], dict | None]) -> bytes | None:
    """One panel per setting: each seed's mode histogram at its last evaluation, sorted (rank against
    count, log scale), and the real reference set's in grey; the title lists each seed's modes covered.
    load_modes(run_id) -> {"step", "counts", "real"} or None."""
    panels = []
    for setting in analysis.settings:
        found = [(t, load_modes(t.run_id)) for t in setting.trials]
        found = [(t, m) for t, m in found if m]
        if found:
            panels.append((setting.setting, found))
    if not panels:
        return None
    colour = colours(analysis)
    columns = min(len(panels), 4)
    rows = -(-len(panels) // columns)
    fig = Figure(figsize=(3.2 * columns, 2.6 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (setting, found) in zip(axes.flat, panels):
        real = sorted_counts(found[0][1]["real"])
        small = len(found[0][1]["counts"]) <= 25  # few modes: mark each one
        ax.plot(np.arange(1, len(real) + 1), real, "--", color="0.5", lw=1.2, label="real data")
        covered = []
        for i, (trial, data) in enumerate(sorted(found, key=lambda f: f[0].seed)):
            counts = sorted_counts(data["counts"])
            covered.append(len(counts))
            if not len(counts):
                continue
            ax.plot(np.arange(1, len(counts) + 1), counts, "o-", ms=3, lw=1.2, alpha=0.8, color=colour[setting],
                    markevery=None if small else [0, len(counts) - 1],  # many modes: mark where it starts, ends
                    label=None if i else "each seed")
        ax.set_yscale("log")
        ax.set_title(f"{wrap(setting, 45)}\nmodes: {', '.join(map(str, covered))} (real {len(real)})", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=6, frameon=False)
    for ax in axes[-1]:
        ax.set_xlabel("mode, most drawn first", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("samples", fontsize=8)
    return png(fig)


def _once(labelled: set[str], text: str) -> str:
    """A legend label the first time, hidden ("_") after."""
    if text in labelled:
        return "_"
    labelled.add(text)
    return text


@dataclass
class IntervalRow:
    """What the interval plot draws for one setting."""

    setting: SettingStats
    seeds: list[float]  # each seed's score at the common step
    finals: list[float]  # each final score of a seed that ran its whole budget; none when the common step is the end
    end_mean: float | None  # their mean, only where MIN_AT_END or more seeds ran to the end


def interval_rows(analysis: Analysis) -> list[IntervalRow]:
    ends = not analysis.one_answer and bool(analysis.end_steps)
    rows = []
    for setting in analysis.settings:
        if "score" in setting.at_common:
            finals = end_scores(setting) if ends else []
            rows.append(IntervalRow(setting, at_common_scores(setting, analysis.common_step), finals,
                                    float(np.mean(finals)) if len(finals) >= MIN_AT_END else None))
    return rows


def intervals(analysis: Analysis) -> bytes | None:
    """Per setting: the common-step score (each seed, the mean, its interval) and, unless the common step is
    the end, each final score of the seeds that ran their whole budget, with their mean only where
    MIN_AT_END or more did."""
    rows = interval_rows(analysis)
    if not rows:
        return None
    step, ends = analysis.common_step, not analysis.one_answer and bool(analysis.end_steps)

    def label(s: SettingStats) -> str:
        return f"{s.setting} (n={s.at_common['score'].n}" + (f"; {s.at_end} of {s.n} at the end)" if ends else ")")

    labels = [wrap(label(r.setting)) for r in rows]
    lines = [text.count("\n") + 1 for text in labels]
    longest = max(len(line) for text in labels for line in text.split("\n"))
    fig = Figure(figsize=(max(7.5, 4.5 + CHAR_INCHES * longest), sum(max(0.45, LINE_INCHES * n) for n in lines) + 1.8),
                 layout="constrained")
    ax = fig.subplots()
    labelled: set[str] = set()
    for y, row in enumerate(rows):
        summary = row.setting.at_common["score"]
        ax.plot(row.seeds, [y] * len(row.seeds), "o", color="0.6", ms=4,
                label=_once(labelled, f"each seed at step {step:,}"))
        if summary.ci is not None:
            ax.plot(summary.ci, [y, y], color="C0", lw=3, label=_once(labelled, "95% interval of the mean"))
        ax.plot([summary.mean], [y], "D", color="C0", ms=7, label=_once(labelled, f"mean at step {step:,}"))
        if row.finals:
            ax.plot(row.finals, [y] * len(row.finals), "|", color="C3", ms=14, mew=2,
                    label=_once(labelled, "each final of a seed that ran its whole budget"))
        if row.end_mean is not None:
            ax.plot([row.end_mean], [y], "D", color="C3", ms=7, mfc="none", mew=1.5,
                    label=_once(labelled, f"mean of the finals ({MIN_AT_END} or more seeds)"))

    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"score at step {step:,} (reached by every compared trial)"
                  + (f"; finals at {end_place(analysis)}" if ends else ""))
    fig.legend(fontsize=7, loc="outside lower center", ncol=3, frameon=False)
    return png(fig)
