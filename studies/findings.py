"""FINDINGS.md: a verdict with an interval on each claim of `studies.claims`, from the study runs named.

    python -m studies.report --findings loss_family-20261203-151200 dg_ratio-20261203-131512
    python -m studies.report --findings findings/*.json       # again, from the exported runs alone

Each run named (a parent run's name or id in the tracking store, or a file
this command exported) is exported to `findings/<run name>.json` beside the
output: the trials' settings, seeds, outcomes and metric histories, a few
kilobytes, so FINDINGS.md can be rebuilt when the store is gone. A claim's
part reads the newest run of its study that has both of its settings, and
pools with it the seeds it lacks from the other runs named that the same
command made but for `--seeds` (`--seeds 2,3` adds two seeds to a run of
seeds 0 and 1; a seed run twice counts once, from the newer run). Pooling
trusts that the code trained the same trials: where the pooled runs record
different digests of gan_core (`gan.code`), the claim says so. The
values are each trial's metric at the part's budget (`studies.claims`),
compared as a study report compares settings (`studies.stats.compare`).
A trial ASHA stopped is censored at its last evaluation; one stopped as
collapsed keeps its last value (it failed, which is a result); a trial that
diverged or failed has no value.

A side whose mean `quality` at the compared step is under the collapse
bar for plausible samples (`collapse_quality`, 0.1 by default) has not taken
off: its samples are still blobs, so a mode count or score says how soon it
learns, not how it ends. The part then says so beside its verdict; at the
end of a budget that means the claim needs a longer one.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from gan_core import TrainConfig
from studies import claims as claim_registry
from studies import stats
from studies.findings_runs import Source, export, rerun_command, rerun_note
from studies.report_page import num
from studies.report_runs import Trial

FOLDER = "findings"  # the exported runs, beside FINDINGS.md
CENSORED = ("stopped_early", "out_of_time", "running", "unknown")  # ended before its budget, by no fault of its own
NO_VALUE = ("diverged", "error")
SEEDS_OPTION = re.compile(r"\s--seeds(?:=|\s+)\S+")
VERDICTS = {  # (what the claim expects, the comparison's verdict) -> the part's verdict
    ("better", "better"): "supported", ("better", "worse"): "contradicted",
    ("same", "better"): "contradicted", ("same", "worse"): "contradicted",
    ("not_worse", "better"): "supported", ("not_worse", "worse"): "contradicted",
}
UNDECIDED = "no detectable difference at this budget"
TAKE_OFF = TrainConfig().collapse_quality  # mean quality under which a side's samples are not yet plausible
FEW = "too few seeds for a verdict"


@dataclass
class PartResult:
    part: claim_registry.Part
    sources_a: list[Source]  # the run read for side a, then the runs whose seeds were pooled with it
    sources_b: list[Source]
    step: int | None = None
    a: stats.Summary | None = None
    b: stats.Summary | None = None
    comparison: stats.Comparison | None = None
    verdict: str = "not run yet"
    grounded: tuple[tuple[claim_registry.Side, float], ...] = ()  # sides not taken off, with their mean quality

    @property
    def source_a(self) -> Source | None:
        return self.sources_a[0] if self.sources_a else None

    @property
    def source_b(self) -> Source | None:
        return self.sources_b[0] if self.sources_b else None


def matches(trial: Trial, side: claim_registry.Side) -> bool:
    return all(trial.labels.get(k) == v for k, v in side.labels)


def base_command(command: str) -> str:
    """The command without its `--seeds`: runs whose commands differ only there ran the same trials on other seeds."""
    return SEEDS_OPTION.sub("", f" {command}").strip()


def budgets(trials: list[Trial]) -> set[str]:
    return {t.params.get("max_steps", "") for t in trials}


def sources_for(sources: list[Source], side: claim_registry.Side, other: claim_registry.Side) -> list[Source]:
    """The newest run of side's study that has side's setting (and other's, where other is in the same study),
    then, newest first, the other runs of that study whose command (as typed today: `rerun_command`) differs
    only in `--seeds` and whose trials of side's setting have the same budget: their seeds pool with it.
    Empty when no run has the settings."""
    wanted = [s for s in (side, other) if s.study == side.study]
    found = [src for src in sources if src.runs.study == side.study
             and all(any(matches(t, s) for t in src.runs.trials) for s in wanted)]
    if not found:
        return []
    anchor = max(found, key=lambda src: src.started)
    command, budget = base_command(rerun_command(anchor)), budgets(side_trials([anchor], side))
    pooled = [src for src in sorted(sources, key=lambda src: src.started, reverse=True)
              if src is not anchor and src.runs.study == side.study and base_command(rerun_command(src)) == command
              and (trials := side_trials([src], side)) and budgets(trials) == budget]
    return [anchor] + pooled


def side_trials(srcs: list[Source], side: claim_registry.Side) -> list[Trial]:
    """Side's trials from the runs in order, each seed once: from the first run that has it."""
    taken: set[str] = set()
    trials = []
    for src in srcs:
        mine = [t for t in src.runs.trials if matches(t, side) and t.seed not in taken]
        taken |= {t.seed for t in mine}
        trials += mine
    return trials


def budget_step(trials: list[Trial], at: str) -> int | None:
    """Half a trial's work for "early". For "end": the last step of the earliest-stopped censored trial (an
    ASHA stop) where there is one, else the longest trial's end; a collapsed trial carries its last value on."""
    if not trials:
        return None
    if at == "early":
        budgets = [int(float(t.params["max_steps"])) for t in trials if float(t.params.get("max_steps", 0) or 0) > 0]
        return min(budgets) // 2 if budgets else None
    censored = [t.last_step() for t in trials if t.status in CENSORED and t.last_step() is not None]
    ends = [t.last_step() for t in trials if t.last_step() is not None]
    return min(censored) if censored else (max(ends) if ends else None)


def values(trials: list[Trial], metric: str, step: int) -> list[float]:
    return [v for t in trials if t.status not in NO_VALUE and (v := t.at(metric, step)) is not None]


def take_off_bar(trials: list[Trial]) -> float:
    """The quality plausible samples reach: the trials' own `collapse_quality`, else gan_core's default."""
    bars = [float(t.params["collapse_quality"]) for t in trials if t.params.get("collapse_quality")]
    return min(bars) if bars else TAKE_OFF


def grounded_sides(sides: list[tuple[claim_registry.Side, list[Trial]]], step: int) -> tuple:
    """The sides whose mean quality at `step` is under the take-off bar, each with that mean."""
    found = []
    for side, trials in sides:
        quality = values(trials, "quality", step)
        if quality and sum(quality) / len(quality) < take_off_bar(trials):
            found.append((side, sum(quality) / len(quality)))
    return tuple(found)


def evaluate(part: claim_registry.Part, sources: list[Source]) -> PartResult:
    srcs_a, srcs_b = sources_for(sources, part.a, part.b), sources_for(sources, part.b, part.a)
    result = PartResult(part, srcs_a, srcs_b)
    if not srcs_a or not srcs_b:
        return result
    trials_a, trials_b = side_trials(srcs_a, part.a), side_trials(srcs_b, part.b)
    result.step = budget_step(trials_a + trials_b, part.at)
    if result.step is None:
        result.verdict = "no values"
        return result
    xs, ys = values(trials_a, part.a.metric, result.step), values(trials_b, part.b.metric, result.step)
    if not xs or not ys:
        result.verdict = "no values"
        return result
    result.a, result.b = stats.summarize(xs), stats.summarize(ys)
    result.comparison = stats.compare(xs, ys)
    result.grounded = grounded_sides([(part.a, trials_a), (part.b, trials_b)], result.step)
    said = result.comparison.verdict if result.comparison.verdict in ("better", "worse") else "none"
    result.verdict = VERDICTS.get((part.expect, said), UNDECIDED)
    if result.verdict == UNDECIDED and min(len(xs), len(ys)) < claim_registry.SEEDS:
        result.verdict = f"{FEW} ({min(len(xs), len(ys))} seeds; it needs {claim_registry.SEEDS} a side)"
    return result


def claim_verdict(results: list[PartResult]) -> str:
    """Contradicted by any part, supported by all; otherwise what holds it back."""
    verdicts = [r.verdict for r in results]
    if "contradicted" in verdicts:
        return "contradicted"
    if all(v == "supported" for v in verdicts):
        return "supported"
    if all(v == "not run yet" for v in verdicts):
        return "not run yet"
    if "supported" in verdicts:
        return "partly supported"
    if any(v in ("not run yet", "no values") for v in verdicts):
        return "partly run"
    return FEW if any(v.startswith(FEW) for v in verdicts) else UNDECIDED


def interval(summary: stats.Summary | None) -> str:
    if summary is None:
        return "-"
    return num(summary.mean) + (f" [{num(summary.ci[0])}, {num(summary.ci[1])}]" if summary.ci else "") \
        + f" (n={summary.n})"


def part_line(r: PartResult) -> str:
    p = r.part
    if r.comparison is None:
        missing = sorted({s.study for s, srcs in ((p.a, r.sources_a), (p.b, r.sources_b)) if not srcs})
        run = "; ".join(f"`{claim_registry.command(s)}`" for s in missing)
        return f"{p.question}: {r.verdict}" + (f" (needs {run})" if run else "") + "."
    c = r.comparison
    ci = f" [{num(c.ci[0])}, {num(c.ci[1])}]" if c.ci else ""
    pv = f", Mann-Whitney p = {num(c.p_value)}" if c.p_value is not None else ""
    return (f"{p.question} (expected: {p.expect.replace('_', ' ')}, at step {r.step:,}): "
            f"{p.a} {interval(r.a)} against {p.b} {interval(r.b)}; P(a > b) = {num(c.p)}{ci}{pv}: "
            f"**{r.verdict}**." + take_off_note(r))


def take_off_note(r: PartResult) -> str:
    if not r.grounded:
        return ""
    sides = " and ".join(f"{side.setting} (mean quality {num(q)})" for side, q in r.grounded)
    verb = "has" if len(r.grounded) == 1 else "have"
    after = (" so this compares how soon it learns; the claim, about how training ends, needs a budget in which "
             "it takes off before ASHA's rung (a larger --max-steps, or --scheduler fifo)"
             if r.part.at == "end" else " so this compares how soon it learns")
    return (f" Note: {sides} {verb} not taken off by step {r.step:,} (quality under {num(TAKE_OFF)}: its samples "
            f"are not yet plausible),{after}.")


def code_warning(results: list[PartResult]) -> list[str]:
    """A line for each set of pooled runs that record different gan_core digests."""
    lines, seen = [], set()
    for srcs in (srcs for r in results for srcs in (r.sources_a, r.sources_b) if len(srcs) > 1):
        if tuple(map(id, srcs)) in seen:
            continue
        seen.add(tuple(map(id, srcs)))
        codes = {src.code for src in srcs if src.code}
        if len(codes) > 1:
            lines.append("Warning: pooled runs were trained by different gan_core code ("
                         + ", ".join(f"{src.runs.parent_name}: {src.code}" for src in srcs if src.code)
                         + "); pooling assumes the change left training alone: rerun one seed of the older "
                         "command and compare its histories before trusting the verdict.")
    return sorted(lines)


def measured(results: list[PartResult]) -> str:
    shown = [f"{r.part.a} {num(r.a.mean)} vs {r.part.b} {num(r.b.mean)}, P = {num(r.comparison.p)}"
             for r in results if r.comparison]
    return "; ".join(shown) or "-"


def document(sources: list[Source], refs_command: str) -> str:
    """The whole FINDINGS.md."""
    evaluated = {cid: [evaluate(p, sources) for p in claim.parts] for cid, claim in claim_registry.CLAIMS.items()}
    lines = ["# Findings: the classic reports' claims, tested over seeds", "",
             f"Generated by `{refs_command}` from the runs listed below; not edited by hand. Each claim of "
             "the classic GAN course reports (ids R1-R16, stated in `studies/claims.py`) is one or more "
             "comparisons of two settings over seeds. Each comparison gives both means with 95% bootstrap "
             "intervals, P(a > b) (the probability that a seed of a beats a seed of b, with its bootstrap "
             "interval) and the two-sided Mann-Whitney p-value. A difference counts only when the interval "
             "excludes 1/2 and p < 0.05, which needs at least 4 seeds a side (the exact test cannot go under "
             "0.1 with 3). The verdict: **supported**, **contradicted**, or **no detectable difference at "
             "this budget**, which is not evidence of no effect (for a claim of no difference it is the "
             "answer the claim predicts, at this power). A side whose samples have not taken off at the "
             f"compared step (mean quality under {num(TAKE_OFF)}) is named in a note: there the comparison "
             "shows how soon a setting learns, not how it ends. Runs of one command that differ only in "
             "`--seeds` pool their seeds. Scores are on the embedded datasets at 32x32 "
             "and a CPU budget, not the reports' 64x64 faces: see each caveat.", "",
             "| claim | verdict | measured (a vs b, P(a > b)) | study |", "|---|---|---|---|"]
    for cid, results in evaluated.items():
        studies = ", ".join(claim_registry.CLAIMS[cid].studies)
        flag = " (a side had not taken off: see the note)" if any(r.grounded for r in results) else ""
        lines.append(f"| [{cid}](#{cid.lower()}) | {claim_verdict(results)}{flag} | {measured(results)} | {studies} |")
    lines += ["", "## Runs", "", "| run | command | trials | seeds | wall time |", "|---|---|---|---|---|"]
    for src in sorted(sources, key=lambda s: s.started):
        wall = f"{src.wall_minutes:.0f} min" if src.wall_minutes is not None else "unfinished"
        lines.append(f"| {src.runs.parent_name} | `{src.command}` | {len(src.runs.trials)} | {src.seeds} | {wall} |")
    lines += ["", "Wall times are the parent run's, on the machine that ran it; the trials' work is fixed, so "
              "another machine gives the same trials in another time."]
    notes = [note for src in sorted(sources, key=lambda s: s.started) if (note := rerun_note(src))]
    lines += ["", "Runs whose command alone no longer makes the same run (ASHA's default rung has moved from "
              "half to three fifths of a trial's budget since, and it keeps the trials within noise of its cut "
              "too):", ""] if notes else []
    lines += [f"- {note}" for note in notes]
    for cid, claim in claim_registry.CLAIMS.items():
        results = evaluated[cid]
        lines += ["", f"## {cid}", "", f"*{claim.text}*", "",
                  "Tested by: " + ", ".join(f"`{claim_registry.command(s)}`" for s in claim.studies)
                  + "; runs read: " + (", ".join(sorted({src.runs.parent_name for r in results
                                                         for src in r.sources_a + r.sources_b})) or "none") + ".",
                  ""]
        lines += [f"- {part_line(r)}" for r in results]
        lines += [line for warning in code_warning(results) for line in ("", warning)]
        lines += ["", f"Verdict: **{claim_verdict(results)}**.", "", f"Caveat: {claim.caveat}"]
    return "\n".join(lines) + "\n"


def write(sources: list[Source], out: str, refs_command: str) -> tuple[str, list[str]]:
    """FINDINGS.md at `out`, each source exported beside it; returns the paths written."""
    folder = os.path.join(os.path.dirname(os.path.abspath(out)), FOLDER)
    os.makedirs(folder, exist_ok=True)
    exported = []
    for src in sources:
        path = os.path.join(folder, f"{src.runs.parent_name}.json")
        with open(path, "w") as f:
            json.dump(export(src), f, indent=None, separators=(",", ":"), sort_keys=True)
            f.write("\n")
        exported.append(path)
    with open(out, "w") as f:
        f.write(document(sources, refs_command))
    return out, exported


def generated_command(refs: list[str], out: str) -> str:
    """The command that rebuilds the document from the exported runs."""
    names = [f"{FOLDER}/{os.path.basename(r) if r.endswith('.json') else r + '.json'}" for r in refs]
    flag = "" if os.path.basename(out) == "FINDINGS.md" else f" --out {out}"
    return f"python -m studies.report --findings {' '.join(names)}{flag}"


def summary(sources: list[Source]) -> list[str]:
    counts: dict[str, int] = {}
    for claim in claim_registry.CLAIMS.values():
        verdict = claim_verdict([evaluate(p, sources) for p in claim.parts])
        counts[verdict] = counts.get(verdict, 0) + 1
    return [f"{len(claim_registry.CLAIMS)} claims from {len(sources)} runs: "
            + ", ".join(f"{n} {v}" for v, n in counts.items()) + "."]
