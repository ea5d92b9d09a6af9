"""FINDINGS.md: a verdict on each claim of `studies.report.claims`, from the `--decide` runs named.

    python -m studies.report --findings dg_ratio-20261208-101500 loss_family-20261208-131200
    python -m studies.report --findings findings/*.json       # again, from the exported runs alone

Each run named (a parent run's name or id in the tracking store, or a file
this command exported) is exported to `findings/<run name>.json` beside the
output: settings, seeds, outcomes, budgets, metric histories, the scheduler,
the gan_core digest and the machine kind of every trial, so FINDINGS.md can
be rebuilt, and checked, when the store is gone.

A side's trials are those whose label is exactly the side's (setting, and
any value the side sets), from runs made under FIFO (every trial runs to its
budget, none is censored); runs pooled for one side must agree on the
scheduler and on the gan_core digest, or the document is refused. Its value
is each trial's metric at the side's step (a trial that did not reach it, or
diverged, has none and is counted). `take_off` is read off the quality curve.

The looks: at `claims.LOOKS` seeds a side (5, 8, 12), each comparison is
tested at the level Lan-DeMets' Pocock-type spending gives that look
(`verdicts.look_alphas`: 0.025, 0.012, 0.014; they sum to 0.05, so over all
looks the chance of any false verdict on a comparison is at most 5%), on the
first n seeds of each side. The first look that decides it gives its verdict;
one that none decides reads "undecided" with the seeds a side it would need.
A side whose mean quality curve has not reached the plausible-samples bar by
the compared step has not taken off: unless the claim is about failing to
train, the part is "not testable at this budget", with the budget its
quality curve points to. A side that took off and then fell back under the
bar (a late collapse) has trained, and is compared: its fall is a result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from studies.report import claims as claim_registry
from studies.report import verdicts
from studies.report.page import num
from studies.report.sources import Source
from studies.report.runs import Trial

FOLDER = "findings"  # the exported runs, beside FINDINGS.md
TAKE_OFF_BAR = 0.1  # gan_core's collapse_quality default: samples under it are not yet plausible
NO_VALUE = ("diverged", "error")
NOT_TESTABLE = "not testable at this budget"
WORDS = {  # (what the part expects, verdicts.decide's verdict) -> the part's verdict
    ("better", "supported"): "supported", ("better", "contradicted"): "contradicted",
    ("not_worse", "supported"): "supported", ("not_worse", "contradicted"): "contradicted",
    ("same", "equivalent"): "supported", ("same", "different"): "contradicted",
}


class FindingsError(ValueError):
    """Runs that cannot be read together (another scheduler, other code): one line."""


@dataclass
class SideValues:
    """One side of a part at one look: its trials, their values at the side's step, and their quality there."""
    side: claim_registry.Side
    step: int
    values: dict[str, float]  # seed -> value (only trials that have one)
    quality: float | None  # mean sample quality at `step`; None: no trial reached it
    missing: list[str] = field(default_factory=list)  # seeds whose trial has no value: "seed (outcome)"
    curve: list[tuple[int, float]] = field(default_factory=list)  # mean quality by step, up to `step`

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def peak(self) -> float | None:
        """The highest the side's mean quality got by `step` (the take-off check); None: no evaluation."""
        return max((q for _, q in self.curve), default=None)


@dataclass
class PartResult:
    cid: str
    part: claim_registry.Part
    sources_a: list[Source]
    sources_b: list[Source]
    verdict: str = "not run yet"
    look: int | None = None  # the look (1-based) that decided it, or the last one read
    alpha: float | None = None  # the level that look tests at
    a: SideValues | None = None
    b: SideValues | None = None
    decision: verdicts.Decision | None = None
    grounded: list[SideValues] = field(default_factory=list)  # sides under the take-off bar
    budget_hint: str = ""  # where the grounded side's quality curve points
    looks: tuple = claim_registry.LOOKS  # seeds a side at each look of the runs read


def budget_of(trial: Trial) -> int:
    return int(float(trial.params.get("max_steps", 0) or 0))


def matches(trial: Trial, side: claim_registry.Side) -> bool:
    """The trial's label (seed aside) is exactly the side's."""
    return {k: v for k, v in trial.labels.items() if k != "seed"} == dict(side.labels)


def side_sources(sources: list[Source], side: claim_registry.Side) -> list[Source]:
    """The runs holding trials of the side, newest first; refused when they were made under another scheduler
    than FIFO or by other gan_core code than each other."""
    found = sorted((src for src in sources if src.runs.study == side.study
                    and any(matches(t, side) for t in src.runs.trials)), key=lambda s: s.started, reverse=True)
    for src in found:
        if src.scheduler != "fifo":
            raise FindingsError(f"{src.runs.parent_name} ran under {src.scheduler}: claims read runs where every "
                                f"trial reached its budget (python -m studies.{side.study} --decide)")
    kinds = {src.machine for src in found}
    if len(kinds) > 1:
        raise FindingsError(f"the trials of {side.study}: {side.setting} come from runs on different kinds of "
                            "machine (" + ", ".join(f"{s.runs.parent_name}: {s.machine}" for s in found)
                            + "): their digits differ, so they are compared apart, not pooled")
    codes = {src.code for src in found}
    if len(codes) > 1:
        raise FindingsError(f"the trials of {side.study}: {side.setting} come from runs of different gan_core "
                            "code (" + ", ".join(f"{s.runs.parent_name}: {s.code}" for s in found)
                            + "); rerun them with one")
    return found


def side_trials(srcs: list[Source], side: claim_registry.Side) -> dict[str, Trial]:
    """seed -> the side's trial from the newest run that has it; refused when they ran different budgets."""
    chosen: dict[str, Trial] = {}
    for src in srcs:
        for t in src.runs.trials:
            if matches(t, side) and t.seed not in chosen:
                chosen[t.seed] = t
    budgets = {budget_of(t) for t in chosen.values()}
    if len(budgets) > 1:
        raise FindingsError(f"the trials of {side.study}: {side.setting} ran different budgets "
                            f"({', '.join(map(str, sorted(budgets)))} updates); name runs of one")
    return chosen


def take_off(trial: Trial, bar: float, budget: int) -> float:
    """The training work at which the trial's quality first reaches the bar; one evaluation past the budget
    when it never does (it takes off later than the budget, if ever)."""
    for step, value in trial.history.get("quality", []):
        if value >= bar:
            return float(step)
    steps = [s for s, _ in trial.history.get("quality", [])]
    gap = steps[1] - steps[0] if len(steps) > 1 else budget
    return float(budget + gap)


def value(trial: Trial, side: claim_registry.Side, step: int, bar: float) -> float | None:
    """The trial's value for the side: its metric at `step` (None when it did not get there or diverged)."""
    if trial.status in NO_VALUE or (trial.last_step() or 0) < step:
        return None
    if side.metric in claim_registry.DERIVED:
        work = take_off(trial, bar, step)
        if side.metric == "take_off_g":
            d, g = int(float(trial.params.get("d_steps", 1))), int(float(trial.params.get("g_steps", 1)))
            work = work * g / (d + g)
        return work
    found = trial.at(side.metric, step)
    return None if found is None or not math.isfinite(found) else float(found)


def read_side(trials: dict[str, Trial], side: claim_registry.Side, seeds: list[str]) -> SideValues:
    """The side's values on these seeds. The step is the side's `at`, else its budget's end; take-off metrics
    are read over the whole budget, and their take-off check at its end."""
    budget = max((budget_of(t) for t in trials.values()), default=0)
    step = budget if side.metric in claim_registry.DERIVED or side.at is None else side.at
    bar = take_off_bar(list(trials.values()))
    values, missing, qualities = {}, [], []
    for seed in seeds:
        t = trials.get(seed)
        v = None if t is None else value(t, side, step, bar)
        if v is None:
            missing.append(f"{seed} ({t.status if t else 'not run'})")
            continue
        values[seed] = v
        q = t.at("quality", step)
        if q is not None:
            qualities.append(q)
    chosen = [trials[s] for s in seeds if s in trials]
    return SideValues(side, step, values, sum(qualities) / len(qualities) if qualities else None, missing,
                      mean_curve(chosen, "quality", step))


def take_off_bar(trials: list[Trial]) -> float:
    """The quality plausible samples reach: the trials' own `collapse_quality`, else gan_core's default."""
    bars = [float(t.params["collapse_quality"]) for t in trials if t.params.get("collapse_quality")]
    return min(bars) if bars else TAKE_OFF_BAR


def mean_curve(trials: list[Trial], key: str, until: int) -> list[tuple[int, float]]:
    by_step: dict[int, list[float]] = {}
    for t in trials:
        for s, v in t.history.get(key, []):
            if s <= until:
                by_step.setdefault(s, []).append(v)
    return [(s, sum(v) / len(v)) for s, v in sorted(by_step.items())]


def budget_hint(side: SideValues, bar: float) -> str:
    """Where the side's mean quality curve points: the work at which a straight line through its last third
    reaches the bar, or that it shows no sign of taking off."""
    curve = side.curve[-max(3, len(side.curve) // 3):]
    if len(curve) < 3:
        return "its curve is too short to say when it would"
    xs, ys = [s for s, _ in curve], [q for _, q in curve]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    if slope <= 1e-7 or (bar - ys[-1]) / slope > 10 * xs[-1]:
        return (f"its quality ({num(ys[-1])} at {xs[-1]:,}) shows no sign of taking off; no budget within ten "
                "times this one would test it")
    reach = xs[-1] + (bar - ys[-1]) / slope
    return f"its quality curve would reach {num(bar)} at about {int(round(reach, -2)):,} updates"


def signed(values: dict[str, float], metric: str) -> dict[str, float]:
    """Values oriented so that higher is better (`verdicts.decide` asks whether x beats y)."""
    return {k: -v for k, v in values.items()} if metric in claim_registry.LOWER_IS_BETTER else values


def judge(cid: str, part: claim_registry.Part, a: SideValues, b: SideValues, alpha: float,
          about_failure: bool) -> tuple[str, verdicts.Decision | None, list[SideValues]]:
    """The part's verdict at one look: not testable (a side whose mean quality never reached the take-off bar
    by the compared step), or verdicts.decide's."""
    grounded = [s for s in (a, b) if s.peak is not None and s.peak < TAKE_OFF_BAR]
    if grounded and not about_failure:
        return NOT_TESTABLE, None, grounded
    x, y = signed(a.values, a.side.metric), signed(b.values, b.side.metric)
    if part.paired:
        common = sorted(set(x) & set(y), key=int)
        xs, ys = [x[s] for s in common], [y[s] for s in common]
    else:
        xs, ys = list(x.values()), list(y.values())
    decision = verdicts.decide(xs, ys, part.expect, part.margin, alpha, paired=part.paired)
    return WORDS.get((part.expect, decision.verdict), "undecided"), decision, grounded


def run_looks(srcs: list[Source]) -> tuple[int, ...]:
    """The looks the runs were made with (a --decide run records them), which must agree."""
    found = {src.looks for src in srcs}
    if len(found) > 1:
        raise FindingsError("runs made with different --looks cannot be pooled: "
                            + ", ".join(f"{s.runs.parent_name}: {','.join(map(str, s.looks))}" for s in srcs))
    return found.pop() if found else claim_registry.LOOKS


def evaluate(cid: str, part: claim_registry.Part, sources: list[Source], looks: tuple | None = None) -> PartResult:
    """The part's verdict over the looks its runs reached (see the module's docstring)."""
    srcs_a, srcs_b = side_sources(sources, part.a), side_sources(sources, part.b)
    result = PartResult(cid, part, srcs_a, srcs_b)
    if not srcs_a or not srcs_b:
        return result
    looks = tuple(looks or run_looks(srcs_a + srcs_b))
    result.looks = looks
    trials_a, trials_b = side_trials(srcs_a, part.a), side_trials(srcs_b, part.b)
    about_failure = claim_registry.CLAIMS[cid].about_failure
    alphas = verdicts.look_alphas(list(looks))
    for k, (n, alpha) in enumerate(zip(looks, alphas)):
        seeds = [str(s) for s in range(n)]
        if not all(s in trials_a for s in seeds) or not all(s in trials_b for s in seeds):
            break  # the runs did not reach this look
        a, b = read_side(trials_a, part.a, seeds), read_side(trials_b, part.b, seeds)
        verdict, decision, grounded = judge(cid, part, a, b, alpha, about_failure)
        result.look, result.alpha, result.a, result.b = k + 1, alpha, a, b
        result.verdict, result.decision, result.grounded = verdict, decision, grounded
        if verdict != "undecided":
            break
    if result.look is None:
        have = min(len(trials_a), len(trials_b))
        result.verdict = (f"not run yet: {have} seeds a side, the first look needs {looks[0]}"
                          if have else "not run yet")
    for side in result.grounded:
        result.budget_hint = budget_hint(side, TAKE_OFF_BAR)
    return result


def seeds_needed(r: PartResult) -> int | None:
    """Seeds a side to decide the part at its spread: the power analysis's count, and never fewer than the
    exact test needs to reach the level at all."""
    d = r.decision
    if d is None or d.seeds_needed is None:
        return None
    return max(d.seeds_needed, verdicts.fewest_seeds(d.alpha, r.part.paired))


def verdict_words(r: PartResult) -> str:
    """The part's verdict as FINDINGS.md says it."""
    p, d = r.part, r.decision
    if r.verdict == "undecided" and d is not None:
        need = seeds_needed(r)
        return f"undecided: needs about {need} seeds a side" if need else "undecided"
    if p.expect == "same" and r.verdict == "supported":
        return f"equivalent within ±{num(p.margin)}"
    if p.expect == "same" and r.verdict == "contradicted":
        return "different"
    if p.expect == "better" and r.verdict == "contradicted" and d is not None and d.verdict == "contradicted" \
            and d.p >= 0.5:
        return f"contradicted: equivalent within ±{num(p.margin)}"
    return r.verdict


def claim_verdict(results: list[PartResult]) -> str:
    """Contradicted by any part, supported by all; otherwise what holds it back."""
    verdicts = [r.verdict for r in results]
    if "contradicted" in verdicts:
        return "contradicted" if "supported" not in verdicts else "partly contradicted"
    if all(v == "supported" for v in verdicts):
        return "supported"
    if all(v.startswith("not run yet") for v in verdicts):
        return "not run yet"
    if all(v == NOT_TESTABLE for v in verdicts):
        return NOT_TESTABLE
    if "supported" in verdicts:
        return "partly supported"
    return "undecided"
