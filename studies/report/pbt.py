"""The report's figure for population-based training: the schedule each member
trained with (lr_d, lr_g, the D:G ratio) against work, read from the
hyper-parameter metrics PBT runs log at every evaluation, with each exploit
(`exploit_from`) marked where the member copied another. None for a study
whose runs logged no schedule.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from studies.report.analysis import Analysis
from studies.report.figures import png


def schedules(analysis: Analysis) -> bytes | None:
    trials = [t for t in analysis.runs.trials if "lr_d" in t.history]
    if not trials:
        return None
    fig = Figure(figsize=(12.6, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    for i, trial in enumerate(trials):
        colour = f"C{i % 10}"
        ratio = [(s, d / g) for (s, d), (_, g) in zip(trial.history.get("d_steps", []), trial.history.get("g_steps", []))]
        exploits = {s for s, _ in trial.history.get("exploit_from", [])}
        for ax, values in zip(axes, (trial.history["lr_d"], trial.history.get("lr_g", []), ratio)):
            if not values:
                continue
            steps, ys = zip(*values)
            # a value at step s is what the member trained with up to s: a step drawn at the end of its span
            ax.step(steps, ys, where="pre", color=colour, lw=1.3, label=f"{trial.setting} seed={trial.seed}" if trial.seed else trial.setting)
            marks = [(s, y) for s, y in values if s in exploits]
            if marks:
                ax.plot(*zip(*marks), "o", color=colour, ms=5, mfc="none")
    for ax, title in zip(axes, ("lr_d", "lr_g", "D:G ratio (d_steps / g_steps)")):
        ax.set_yscale("log", base=2 if "ratio" in title else 10)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step (work)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
    fig.suptitle("PBT schedules, one line per member; o: the member copied another there "
                 "(the value there is the one it trained with before the copy)", fontsize=10)
    return png(fig)
