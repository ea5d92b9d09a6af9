"""The figures of a study report, drawn headless (matplotlib's Agg canvas, no
pyplot state): each function takes an `Analysis` and returns one PNG as
bytes, or None when the study logged nothing to draw.

    curves        score, diversity, quality against step: mean and range over seeds per setting;
                  ASHA stops (x) and collapse stops (v) marked where the trial ended
    losses        loss_d and loss_g against step, mean per setting
    samples       each setting's sample grid at four steps side by side (one seed; for 2-D data the
                  scatter of generated over real points)
    modes         datasets with known modes: samples per mode at each trial's last evaluation, modes
                  sorted from most to least drawn, beside the real reference set's
    intervals     one row per setting: mean and 95% interval of the common-step score, each seed,
                  and the mean final score of the trials that finished
    importances   Optuna's parameter importances (search studies)
    best_so_far   each trial's score and the best so far against trial number (search studies)
"""

from __future__ import annotations

import io
from typing import Callable

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from studies.report_analysis import Analysis, SettingStats, at_common_scores  # noqa: E402

DPI = 100
STOP_MARKERS = {"stopped_early": ("x", "stopped by ASHA"), "collapsed": ("v", "stopped as collapsed")}
PANEL_STEPS = 4  # sample grids per setting


def png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    return out.getvalue()


def colours(analysis: Analysis) -> dict[str, tuple]:
    cmap = matplotlib.colormaps["tab10" if len(analysis.settings) <= 10 else "tab20"]
    return {s.setting: cmap(i % cmap.N) for i, s in enumerate(analysis.settings)}


def band(setting: SettingStats, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps, and the mean, min and max over the seeds that logged `key` at each step."""
    by_step: dict[int, list[float]] = {}
    for trial in setting.trials:
        for step, value in trial.history.get(key, []):
            by_step.setdefault(step, []).append(value)
    steps = np.array(sorted(by_step))
    values = [by_step[s] for s in steps]
    return steps, np.array([np.mean(v) for v in values]), np.array([min(v) for v in values]), \
        np.array([max(v) for v in values])


def _plot_key(ax, analysis: Analysis, key: str, colour: dict, stops: bool) -> bool:
    drawn = False
    for setting in analysis.settings:
        steps, mean, low, high = band(setting, key)
        if len(steps) == 0:
            continue
        drawn = True
        ax.plot(steps, mean, color=colour[setting.setting], label=setting.setting, lw=1.5)
        if setting.n > 1:
            ax.fill_between(steps, low, high, color=colour[setting.setting], alpha=0.15, lw=0)
        for trial in setting.trials if stops else ():
            if trial.status in STOP_MARKERS and trial.history.get(key):
                step, value = trial.history[key][-1]
                ax.plot([step], [value], STOP_MARKERS[trial.status][0], color=colour[setting.setting], ms=8, mew=2)
    ax.set_title(key)
    ax.set_xlabel("step")
    return drawn


def _legend(fig: Figure, ax, stops: bool) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if stops:
        for marker, text in STOP_MARKERS.values():
            handles.append(matplotlib.lines.Line2D([], [], ls="", marker=marker, color="0.3", ms=8, mew=2))
            labels.append(text)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)


def _step_panels(analysis: Analysis, keys: tuple[str, ...], stops: bool, title: str) -> bytes | None:
    keys = tuple(k for k in keys if any(k in t.history for t in analysis.runs.trials))
    if not keys:
        return None
    fig = Figure(figsize=(4.2 * len(keys), 3.6), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    colour = colours(analysis)
    for ax, key in zip(axes, keys):
        _plot_key(ax, analysis, key, colour, stops)
    _legend(fig, axes[0], stops)
    fig.suptitle(title, fontsize=10)
    return png(fig)


def curves(analysis: Analysis) -> bytes | None:
    return _step_panels(analysis, ("score", "diversity", "quality"), True,
                        "mean over seeds per setting; band: range over seeds")


def losses(analysis: Analysis) -> bytes | None:
    return _step_panels(analysis, ("loss_d", "loss_g"), False, "losses, mean over seeds per setting")


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
        row[0].text(-0.05, 0.5, f"{setting}\nseed {trial.seed or '-'}", transform=row[0].transAxes,
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
        ax.set_title(f"{setting}\nmodes: {', '.join(map(str, covered))} (real {len(real)})", fontsize=8)
        ax.tick_params(labelsize=7)
    axes.flat[0].legend(fontsize=6, frameon=False)
    for ax in axes[-1]:
        ax.set_xlabel("mode, most drawn first", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("samples", fontsize=8)
    return png(fig)


def intervals(analysis: Analysis) -> bytes | None:
    rows = [s for s in analysis.settings if "score" in s.at_common]
    if not rows:
        return None
    fig = Figure(figsize=(7.5, 0.45 * len(rows) + 1.6), layout="constrained")
    ax = fig.subplots()
    for y, setting in enumerate(rows):
        summary = setting.at_common["score"]
        seeds = at_common_scores(setting, analysis.common_step)
        ax.plot(seeds, [y] * len(seeds), "o", color="0.6", ms=4, label="each seed" if y == 0 else None)
        if summary.ci is not None:
            ax.plot(summary.ci, [y, y], color="C0", lw=3, label="95% interval" if y == 0 else None)
        ax.plot([summary.mean], [y], "D", color="C0", ms=7, label="mean" if y == 0 else None)
        if "score" in setting.finished:
            ax.plot([setting.finished["score"].mean], [y], "|", color="C3", ms=14, mew=2,
                    label="finished trials' final (mean)" if y == 0 else None)
    ax.set_yticks(range(len(rows)), [f"{s.setting} (n={s.at_common['score'].n})" for s in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"score at step {analysis.common_step} (reached by every compared trial)")
    fig.legend(fontsize=7, loc="outside lower center", ncol=4, frameon=False)
    return png(fig)
