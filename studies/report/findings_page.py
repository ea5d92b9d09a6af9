"""FINDINGS.md as a document: the verdict of every claim of `studies.report.claims`, part by part,
with the numbers an independent recomputation needs (each side's values, n, P, p-values, the look
and its level, the margin and why), the runs read with their CPU-hours, and the runs exported beside
it (`findings/<run name>.json`) so it can be rebuilt when the store is gone. The verdicts themselves
are `studies.report.findings.evaluate`'s.
"""

from __future__ import annotations

import json
import os

from studies.report import claims as claim_registry
from studies.report import stats, verdicts
from studies.report.findings import (FOLDER, NOT_TESTABLE, TAKE_OFF_BAR, FindingsError, PartResult, SideValues,  # noqa: F401
                                     claim_verdict, evaluate, seeds_needed, verdict_words)
from studies.report.page import num
from studies.report.sources import Source, export
from studies.report.tables import markdown_table


def side_text(s: SideValues) -> str:
    summary = stats.summarize(list(s.values.values())) if s.values else None
    mean = "-" if summary is None else num(summary.mean) + (
        f" [{num(summary.ci[0])}, {num(summary.ci[1])}]" if summary.ci else "")
    missing = f"; no value: {', '.join(s.missing)}" if s.missing else ""
    return f"{s.side} {mean} (n={s.n}{missing})"


def part_line(r: PartResult) -> str:
    p = r.part
    head = f"{p.question} (expected: {p.expect.replace('_', ' ')}; margin ±{num(p.margin)}: {p.reason})"
    if r.a is None:
        missing = sorted({s.study for s, srcs in ((p.a, r.sources_a), (p.b, r.sources_b)) if not srcs})
        run = "; ".join(f"`{claim_registry.command(s)}`" for s in missing)
        return f"{head}: {r.verdict}" + (f" (needs {run})" if run else "") + "."
    look = f"look {r.look} of {len(r.looks)} ({r.looks[r.look - 1]} seeds a side, " \
           f"level {num(r.alpha)})"
    text = f"{head}, {look}: {side_text(r.a)} against {side_text(r.b)}"
    d = r.decision
    if d is not None:
        tests = [f"P(a better than b) = {num(d.p)}", f"exact permutation p = {num(d.permutation_p)}"]
        if p.expect == "same" and d.equivalence_p is not None:
            tests.append(f"equivalence (TOST) p = {num(d.equivalence_p)}")
        if p.expect == "not_worse" and d.noninferiority_p is not None:
            tests.append(f"non-inferiority p = {num(d.noninferiority_p)}")
        if p.expect == "better" and d.equivalence_p is not None:
            tests.append(f"equivalence p = {num(d.equivalence_p)}")
        diff = d.difference if p.a.metric not in claim_registry.LOWER_IS_BETTER else -d.difference
        ci = d.difference_ci if p.a.metric not in claim_registry.LOWER_IS_BETTER else \
            (-d.difference_ci[1], -d.difference_ci[0]) if d.difference_ci else None
        tests.append(f"a - b = {num(diff)}" + (f" [{num(ci[0])}, {num(ci[1])}]" if ci else ""))
        if seeds_needed(r):
            tests.append(f"seeds a side to detect ±{num(p.margin)} at this spread: {seeds_needed(r)}")
        text += "; " + ", ".join(tests) + ("; paired by seed" if p.paired else "")
    text += f": **{verdict_words(r)}**."
    if r.grounded:
        sides = " and ".join(f"{s.side.setting} (mean quality at most {num(s.peak)} up to {s.step:,})"
                             for s in r.grounded)
        verb = "has" if len(r.grounded) == 1 else "have"
        text += (f" {sides} {verb} not taken off (quality never reached {num(TAKE_OFF_BAR)}: its samples are not "
                 f"yet plausible); {r.budget_hint}.")
    return text


def run_row(src: Source) -> list[str]:
    wall = f"{src.wall_minutes:.0f} min" if src.wall_minutes is not None else "unfinished"
    trained = sum(not src.reused(t) for t in src.runs.trials)
    machines = ", ".join(src.machines) or src.machine  # a run that trained nothing: where its copies were made
    return [src.runs.parent_name, f"`{src.command}`", str(len(src.runs.trials)), str(trained),
            str(len(src.runs.trials) - trained), str(src.seeds), machines, src.code or "?", f"{src.trial_hours:.1f}",
            wall]


def runs_used(results: list[PartResult]) -> list[Source]:
    seen: dict[str, Source] = {}
    for r in results:
        for src in r.sources_a + r.sources_b:
            seen[src.runs.parent_name] = src
    return sorted(seen.values(), key=lambda s: s.started)


def by_machine(sources: list[Source]) -> tuple[str, dict[str, list[Source]]]:
    """The runs grouped by the kind of machine that trained them, and the kind the verdicts are read on: the
    one with the most runs (another kind draws other digits for the same trials: it replicates, apart)."""
    groups: dict[str, list[Source]] = {}
    for src in sources:
        groups.setdefault(src.machine, []).append(src)
    return max(groups, key=lambda k: (len(groups[k]), k)) if groups else "?", groups


def replication(primary: str, evaluated: dict, kind: str, srcs: list[Source]) -> list[str]:
    """The parts the runs of another machine kind decide again, each beside the primary kind's verdict."""
    lines = ["", f"## Verdicts on another kind of CPU: {kind}", "",
             f"The same commands on {kind} draw other digits for the same trials (see the reproducibility "
             f"guide); the verdict is what must agree with the one on {primary}.", ""]
    rows = []
    for cid, claim in claim_registry.CLAIMS.items():
        for i, part in enumerate(claim.parts):
            again = evaluate(cid, part, srcs)
            if again.a is None:
                continue
            first = evaluated[cid][i]
            same = "yes" if again.verdict == first.verdict else "**no**"
            rows.append([f"[{cid}](#{cid.lower()}) part {i + 1}", f"{verdict_words(again)} (look {again.look}, "
                         f"n = {again.a.n} and {again.b.n})", verdict_words(first), same])
    return lines + markdown_table(["part", kind, primary, "same verdict"], rows) if rows else []


def document(sources: list[Source], refs_command: str) -> str:
    """The whole FINDINGS.md."""
    primary, groups = by_machine(sources)
    main = groups.get(primary, [])
    evaluated = {cid: [evaluate(cid, p, main) for p in claim.parts]
                 for cid, claim in claim_registry.CLAIMS.items()}
    looks = ", ".join(map(str, claim_registry.LOOKS))
    alphas = ", ".join(num(a) for a in verdicts.look_alphas(list(claim_registry.LOOKS)))
    lines = ["# Findings: the classic reports' claims, tested over seeds", "",
             f"Generated by `{refs_command}` from the runs listed below; not edited by hand. Each claim of "
             "the classic GAN course reports (ids R1-R16, stated in `studies/report/claims.py`) is one or more "
             "comparisons of two settings over seeds, every trial run to its budget (FIFO: nothing censored), "
             "each side read at the step the part names. A part declares the smallest difference that matters "
             "(its margin, with the reason). Seeds are added in looks of "
             f"{looks} a side until the comparison is decided; look k tests at the level {alphas} "
             "(Lan-DeMets' Pocock-type alpha spending; the levels sum to 0.05, so the chance of any false "
             "verdict over the looks is at most 5%). A claim that a beats b is **supported** when an exact "
             "permutation test (ties counted) finds a ahead, **contradicted** when it finds a behind or the two "
             "equivalent within the margin (two one-sided tests); a claim of no difference reads **equivalent "
             "within ±m** (TOST) or **different**; a claim that a is no worse reads supported when a "
             "non-inferiority test says so. Otherwise the comparison is **undecided**, with the seeds a side it "
             "would need to detect its margin at the spread seen. Sides that are the same trials are paired by "
             "seed. A side whose samples have not taken off by the compared step (its mean quality never "
             f"reached {num(TAKE_OFF_BAR)}) makes the part **{NOT_TESTABLE}**, unless the claim is about failing "
             "to train (R3, R8); a side that took off and fell back (a late collapse) is compared. Scores are on "
             "the embedded datasets at 32x32, not the reports' 64x64 faces: see each caveat.", ""]
    lines += markdown_table(["claim", "verdict", "parts", "study"], (
        [f"[{cid}](#{cid.lower()})", claim_verdict(results), "; ".join(verdict_words(r) for r in results),
         ", ".join(claim_registry.CLAIMS[cid].studies)] for cid, results in evaluated.items()))
    used = runs_used([r for results in evaluated.values() for r in results])
    used += sorted((src for kind, srcs in groups.items() if kind != primary for src in srcs), key=lambda s: s.started)
    lines += ["", "## Runs", ""]
    lines += markdown_table(["run", "command", "trials", "trained", "reused", "seeds", "machine", "gan_core",
                             "CPU-hours", "wall time"], (run_row(src) for src in used))
    own = sum(src.trial_hours for src in used)
    total = sum({k: v for src in used for k, v in src.trainings().items()}.values()) / 3600
    lines += ["", f"Training took {total:.1f} CPU-hours in all: each trial these runs read, its wall time on one "
              "CPU thread, once. The table's CPU-hours are what each run trained itself "
              f"({own:.1f} together); the other {max(total - own, 0.0):.1f} trained, in earlier runs, the "
              "originals of trials these runs copied (trial reuse: the same config, seed, budget, code and kind "
              "of machine). Trials are bitwise "
              "reproducible on the same kind of CPU (`machine`); another kind, or a GPU, draws other digits for "
              f"the same trials, and the verdicts are what must agree. The verdicts below are read on {primary}."]
    for kind, srcs in sorted(groups.items()):
        if kind != primary:
            lines += replication(primary, evaluated, kind, srcs)
    for cid, claim in claim_registry.CLAIMS.items():
        results = evaluated[cid]
        runs = ", ".join(src.runs.parent_name for src in runs_used(results)) or "none"
        lines += ["", f"## {cid}", "", f"*{claim.text}*", "",
                  "Tested by: " + ", ".join(f"`{claim_registry.command(s)}`" for s in claim.studies)
                  + f"; runs read: {runs}.", ""]
        lines += [f"- {part_line(r)}" for r in results]
        lines += ["", f"Verdict: **{claim_verdict(results)}**.", "", f"Caveat: {claim.caveat}"]
    return "\n".join(lines) + "\n"


def write(sources: list[Source], out: str, refs_command: str) -> tuple[str, list[str]]:
    """FINDINGS.md at `out`, each source exported beside it; returns the paths written."""
    text = document(sources, refs_command)  # refused runs stop here, before anything is written
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
        f.write(text)
    return out, exported


def generated_command(refs: list[str], out: str) -> str:
    """The command that rebuilds the document from the exported runs."""
    names = [f"{FOLDER}/{os.path.basename(r) if r.endswith('.json') else r + '.json'}" for r in refs]
    flag = "" if os.path.basename(out) == "FINDINGS.md" else f" --out {out}"
    return f"python -m studies.report --findings {' '.join(names)}{flag}"


def summary(sources: list[Source]) -> list[str]:
    """The verdict counts of the document's claims table: read on the machine kind it reads them on."""
    primary, groups = by_machine(sources)
    main = groups.get(primary, [])
    counts: dict[str, int] = {}
    for cid, claim in claim_registry.CLAIMS.items():
        verdict = claim_verdict([evaluate(cid, p, main) for p in claim.parts])
        counts[verdict] = counts.get(verdict, 0) + 1
    others = f" (and {len(sources) - len(main)} on another kind of CPU)" if len(main) < len(sources) else ""
    return [f"{len(claim_registry.CLAIMS)} claims from {len(main)} runs on {primary}{others}: "
            + ", ".join(f"{n} {v}" for v, n in counts.items()) + "."]
