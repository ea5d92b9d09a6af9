"""FIFO against ASHA + the collapse stopper on the same trials: how much
compute early stopping saves, whether it keeps the best configuration, how
soon after collapse sets in it stops a collapsed trial, and how often the
collapse stopper ends a trial that FIFO shows escaping its collapse.

    python benchmarks/fifo_vs_asha.py                    # the mode_collapse study, ~26 min on 2 CPU cores
    python benchmarks/fifo_vs_asha.py --max-steps 6000 --grace 14 --out fifo_vs_asha_6000   # take-off early in the budget, two rungs
    python benchmarks/fifo_vs_asha.py --study dg_ratio   # any study; extra options go to both runs
    python benchmarks/fifo_vs_asha.py --smoke            # the whole path in a few minutes
    python benchmarks/fifo_vs_asha.py --replay benchmarks/fifo_runs/label_smoothing.json --rung-tolerance 0
                                      # no runs: ASHA's rules replayed on a FIFO run's histories, in seconds
    python benchmarks/fifo_vs_asha.py --replay benchmarks/fifo_runs/*.json   # every FIFO run measured, then a line each
    python benchmarks/fifo_vs_asha.py --false-stops benchmarks/fifo_runs/*.json   # the collapse stopper's false stops, per rule

It runs the study twice into one MLflow store (`--out`, default
./fifo_vs_asha): once with `--scheduler fifo` (every trial to the end) and
once with `--scheduler asha`, then pairs the trials by configuration. On the
CPU a trial is deterministic for its seed, so each evaluation of the FIFO run
is what the ASHA run would have seen had it not stopped the trial: collapse
onset is the first of the two collapse-like FIFO evaluations running (low
diversity, plausible samples, no new diversity high) that first made
`collapsed` true, and "evaluations after onset" counts from there to the
evaluation at which ASHA's run stopped the trial. Take-off is the first FIFO
evaluation at which a trial's sample quality reached the plausible-samples bar
(`collapse_quality`): a grace period that ends before it ranks noise. It counts the trials of
FIFO's top quarter (by final score) that ASHA's run stopped, apart: at a rung
(the early stop that biases the study's answer) and as collapsed (with each
one's FIFO end, and whether FIFO shows its diversity reaching the collapse
threshold after the stop: an escape the stop cut short), and the top-quarter
trials lost: the rung's stops plus the collapse stops FIFO shows escaping. Compute is network updates
(D and G) summed over trials, and wall-clock seconds of the runs. Steps are
MLflow's: the budget's unit (network updates for the default studies).

`--replay` runs nothing: it gives the ASHA run of a FIFO run's trials from
their histories alone (the collapse stopper and the synchronous rungs of
`studies.run.halving`, under `--grace`, `--rung-tolerance`, `--collapse-grace`,
`--collapse-persistence` and `--collapse-stall`), so a rule can be tried on a
study without running it again; replayed under the collapse stopper's rule
they ran with (`--stopper-before`: its grace at ASHA's rung, persistence 2, no
stall window), the FIFO runs under `benchmarks/fifo_runs/` (written by
`--export FILE`) give exactly the updates and stops their real ASHA runs did.

`--false-stops FILE...` runs nothing either: on every trial of the exports
given (`--export`'s, or a study's `--findings` export, its trials each with the
CPU type that trained it) that ran its whole budget, it feeds the collapse
stopper alone each evaluation under each rule of RULES (the rule before first,
then the candidates; `studies.run.stoppers` holds the default) and counts the
trials it ends as collapsed, the false stops among them (FIFO shows the trial
escaping: FALSE_STOP says exactly how) and the updates it saves, a table per
rule by study, budget and CPU type (totals per CPU type when the exports name
more than one), then a line per rule. A trial in two exports counts once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from gan_core import TrainConfig
from studies.plan.plan import (COLLAPSE_GRACE_SHARE, COLLAPSE_PERSISTENCE, COLLAPSE_STALL, REDUCTION_FACTOR,
                                RUNG_TOLERANCE,
                                default_collapse_grace, default_grace)
from studies.report.tables import markdown_table
from studies.run.records import config_params
from studies.run.reuse import TAG_MACHINE
from studies.run.stoppers import CollapseStopper

TAKE_OFF = TrainConfig().collapse_quality  # the plausible-samples bar, when a trial's params do not say
COLLAPSE_THRESHOLD = TrainConfig().collapse_threshold  # diversity under it is collapse-like, when params do not say
CLIMBING_SHARE = 0.5  # a stopped trial whose FIFO diversity ends at this share of its threshold was climbing out

PARAMS_IGNORED = {"max_seconds"}


def run(study: str, scheduler: str, out: Path, extra: list[str]) -> None:
    command = [sys.executable, "-m", f"studies.{study}", "--scheduler", scheduler,
               "--tracking-uri", f"sqlite:///{out / 'mlflow.db'}", "--storage", str(out / "ray_results"), *extra]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def trials(client: MlflowClient, exp_id: str, parent) -> dict[str, dict]:
    """The parent run's children keyed by their config: outcome, histories, rounds, seconds."""
    children = client.search_runs([exp_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", max_results=1000)
    out = {}
    for child in children:
        params = config_params(child.data.tags, child.data.params)  # the full config, whichever way the run kept it
        key = json.dumps({k: v for k, v in sorted(params.items()) if k not in PARAMS_IGNORED})
        history = {name: [(m.step, m.value) for m in sorted(client.get_metric_history(child.info.run_id, name),
                                                              key=lambda m: m.step)]
                   for name in ("score", "score_smooth", "diversity", "collapsed", "quality", "modes_covered")}
        steps = [s for s, _ in history["score"]]
        out[key] = {"params": params, "outcome": child.data.tags.get("gan.status"),
                    "setting": child.data.tags.get("gan.setting", key), "machine": child.data.tags.get(TAG_MACHINE),
                    "history": history, "rounds": steps[-1] if steps else 0,
                    "seconds": ((child.info.end_time or child.info.start_time) - child.info.start_time) / 1000,
                    "final": history["score"][-1][1] if history["score"] else 0.0}
    return out


def take_off(trial: dict) -> int | None:
    """The step of the first evaluation whose sample quality reached the trial's plausible-samples bar
    (`collapse_quality`); None when it never did."""
    bar = float(trial["params"].get("collapse_quality", TAKE_OFF))
    return next((step for step, q in trial["history"]["quality"] if q >= bar), None)


def take_off_line(fifo: dict) -> str:
    """Where the FIFO trials took off, against the budget: the median and the latest take-off."""
    steps = sorted(s for t in fifo.values() if (s := take_off(t)) is not None)
    budget = max(t["rounds"] for t in fifo.values())
    never = len(fifo) - len(steps)
    if not steps:
        return f"- take-off: no FIFO trial reached the quality bar within {budget:,} steps"
    median = steps[(len(steps) - 1) // 2]
    return (f"- take-off (FIFO, first evaluation at the quality bar): median step {median:,} "
            f"({median / budget:.0%} of the {budget:,}-step budget), latest {steps[-1]:,} ({steps[-1] / budget:.0%}); "
            f"{never} of {len(fifo)} trials never took off")


def onset(trial: dict, eval_every: int) -> int | None:
    """The step at which collapse set in: the first of the two collapse-like
    evaluations running (low diversity, plausible samples, no new diversity
    high) that first made `collapsed` true; None when it never was."""
    collapsed = [step for step, flag in trial["history"]["collapsed"] if flag]
    return collapsed[0] - eval_every if collapsed else None


def compare(out: Path, study: str) -> str:
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name(study)
    parents = client.search_runs([exp.experiment_id], "tags.role = 'study'", order_by=["start_time DESC"],
                                 max_results=2)
    asha_parent, fifo_parent = parents
    fifo, asha = trials(client, exp.experiment_id, fifo_parent), trials(client, exp.experiment_id, asha_parent)
    wall = f"wall clock {_wall(asha_parent) / 60:.1f} min against {_wall(fifo_parent) / 60:.1f} min"
    return summary(study, fifo, asha, wall)


def summary(study: str, fifo: dict, asha: dict, wall: str) -> str:
    """The comparison of a FIFO run's trials with an ASHA run's (or a replay's), paired by configuration."""
    rows = []
    lags = []
    for key in sorted(fifo, key=lambda k: -fifo[k]["final"]):
        f, a = fifo[key], asha.get(key)
        if a is None:
            continue
        eval_every = int(f["params"]["eval_every"])
        start = onset(f, eval_every)
        lag = (a["rounds"] - start) // eval_every if a["outcome"] == "collapsed" and start is not None else None
        if lag is not None:
            lags.append(lag)
        rows.append([f["setting"], f"{f['final']:.3f}", a["outcome"], f"{a['rounds']} / {f['rounds']}",
                     f"{start if start is not None else '-'}", f"{a['rounds'] if a['outcome'] != 'finished' else '-'}",
                     f"{lag if lag is not None else '-'}"])
    rounds_fifo, rounds_asha = updates(fifo), updates(asha)
    best_fifo = max(fifo, key=lambda k: fifo[k]["final"])
    best_asha = max(asha, key=lambda k: asha[k]["final"])
    stopped = {o: sum(t["outcome"] == o for t in asha.values()) for o in ("stopped_early", "collapsed", "finished")}
    top, lost = top_quarter_stopped(fifo, asha)
    lines = [
        f"study `{study}`: {len(fifo)} trials in each run",
        f"- compute: ASHA + collapse stopper used {rounds_asha:,} network updates against FIFO's {rounds_fifo:,} "
        f"({1 - rounds_asha / rounds_fifo:.0%} saved); {wall}",
        f"- ASHA run: {stopped['finished']} finished, {stopped['stopped_early']} stopped by ASHA, "
        f"{stopped['collapsed']} stopped as collapsed",
        f"- best configuration: FIFO `{fifo[best_fifo]['setting']}` ({fifo[best_fifo]['final']:.3f}), "
        f"ASHA `{asha[best_asha]['setting']}` ({asha[best_asha]['final']:.3f}): "
        f"{'the same' if best_fifo == best_asha else 'different'}",
        take_off_line(fifo),
        f"- collapsed trials were stopped {', '.join(map(str, sorted(lags))) or '-'} evaluations after collapse onset",
        *lost_lines(fifo, asha, top, lost),
        "", *markdown_table(["setting", "FIFO final score", "ASHA outcome", "ASHA steps / FIFO steps",
                             "collapse onset", "stopped at", "evaluations after onset"], rows),
    ]
    return "\n".join(lines)


def overview_row(study: str, fifo: dict, asha: dict) -> list[str]:
    """One line of the overview: a study's FIFO run against its ASHA run (or replay), in figures."""
    ends = [sum(t["outcome"] == o for t in asha.values()) for o in ("finished", "stopped_early", "collapsed")]
    gone = cost(fifo, asha, top_quarter_stopped(fifo, asha)[1])
    best = max(fifo, key=lambda k: fifo[k]["final"]) == max(asha, key=lambda k: asha[k]["final"])
    budget = max(t["rounds"] * _updates(t) for t in fifo.values())
    return [f"`{study}`", str(len(fifo)), f"{budget:,}", f"{updates(fifo):,}",
            f"{updates(asha):,} ({1 - updates(asha) / updates(fifo):.0%})", " / ".join(map(str, ends)),
            "yes" if best else "no",
            f"{len(gone)}" + (f" ({', '.join(fifo[k]['setting'] for k in gone)})" if gone else "")]


def overview(rows: list[list[str]]) -> str:
    """The overview table: a line per FIFO run replayed."""
    head = ["study", "trials", "updates per trial", "FIFO updates", "ASHA updates (saved)",
            "finished / stopped at a rung / collapsed", "same best trial", "FIFO's top quarter lost"]
    return "\n".join(markdown_table(head, rows))


def replay(fifo: dict, grace: float | None = None, tolerance: float = RUNG_TOLERANCE,
           persistence: int = COLLAPSE_PERSISTENCE, smoothing: float = 0.5, collapse_grace: float | None = None,
           stall: int = COLLAPSE_STALL) -> dict:
    """The ASHA run a study would make of the FIFO run's trials, replayed from their histories (on the CPU a
    trial is deterministic for its seed, so they are what the ASHA run's trials would log): the collapse
    stopper (`CollapseStopper`, fed each evaluation; its grace `collapse_grace`, by default the study's:
    `default_collapse_grace`) and the synchronous rungs (`studies.run.halving`'s
    rungs, quota, keep and noise), a trial the stopper ended before a rung counting toward its cut. Each
    trial's outcome and the step it ended at, shaped as `trials` gives an ASHA run's. Ties at a rung go
    to the trial first in `fifo`, not in Tune's trial order (exact ties are trials that never learned)."""
    from studies.run.halving import keep, noise, quota, rungs

    def values(key: str, name: str) -> dict[int, float]:
        return {i: v for i, (_, v) in enumerate(fifo[key]["history"].get(name, []), 1)}
    count = {k: len(t["history"]["score"]) for k, t in fifo.items()}
    grace = grace or default_grace(max(count.values()))
    if collapse_grace is None:
        collapse_grace = default_collapse_grace(max(count.values()), grace)
    ends = {k: (e, "collapsed") for k in fifo if (e := collapse_stop(fifo[k], collapse_grace, persistence, stall))}
    alive = set(fifo)
    for r, m in enumerate(rungs(grace, REDUCTION_FACTOR, max(count.values()))):
        alive = {k for k in alive if count[k] >= m and not (k in ends and ends[k][0] <= m)}
        at = {k: values(k, "score_smooth")[m] for k in alive}
        spread = {k: noise(values(k, "score"), m, smoothing) for k in alive}
        took = {k for k in alive if values(k, "quality")[m] >= float(fifo[k]["params"].get("collapse_quality", TAKE_OFF))}
        kept = keep(at, list(fifo), quota(len(fifo), 2, r), spread, tolerance, took)
        ends.update({k: (m, "stopped_early") for k in alive - kept})
        alive = kept
    out = {}
    for k, t in fifo.items():
        e, outcome = ends.get(k, (count[k], t.get("outcome", "finished")))
        step, value = t["history"]["score"][e - 1]
        out[k] = {**t, "outcome": outcome, "rounds": step, "final": value}
    return out


def collapse_stop(trial: dict, grace: float, persistence: int = COLLAPSE_PERSISTENCE,
                  stall: int = COLLAPSE_STALL) -> int | None:
    """The evaluation (1 for the first) at which the collapse stopper (`CollapseStopper`, in evaluations) ends
    the trial, fed its history's evaluations one by one; None when it never does before the last."""
    stopper = CollapseStopper("training_iteration", grace, persistence, stall)
    diversity = dict(trial["history"].get("diversity", []))
    count = len(trial["history"]["score"])
    for e, (step, flag) in enumerate(trial["history"]["collapsed"], 1):
        if stopper("t", {"training_iteration": e, "collapsed": flag, "diversity": diversity.get(step)}) and e < count:
            return e
    return None


class StopRule:
    """A collapse stopper's rule as --false-stops tries it: its grace as a share of a trial's evaluations
    (None: ASHA's default rung, three fifths), the reports in a row with `collapsed`, and the reports without
    a new diversity high (0: no such condition)."""

    def __init__(self, grace_share: float | None, persistence: int, stall: int):
        self.grace_share, self.persistence, self.stall = grace_share, persistence, stall

    def grace(self, evaluations: int) -> float:
        if self.grace_share is None:
            return default_grace(evaluations)
        return max(round(evaluations * self.grace_share, 9), 1)

    def __str__(self) -> str:
        grace = "ASHA's rung (3/5)" if self.grace_share is None else f"{self.grace_share:.0%} of the budget"
        return f"grace {grace}, persistence {self.persistence}, " + (
            f"no new diversity high over the last {self.stall} evaluations" if self.stall else "no stall window")


RULE_BEFORE = StopRule(None, 2, 0)  # the stopper's rule until 2026-12-07
RULE = StopRule(COLLAPSE_GRACE_SHARE, COLLAPSE_PERSISTENCE, COLLAPSE_STALL)  # today's default (studies.run.stoppers)
RULES = [RULE_BEFORE, StopRule(None, 3, 0), StopRule(None, 4, 0), StopRule(None, 2, 4), StopRule(None, 2, 6),
         StopRule(3 / 4, 2, 6), StopRule(4 / 5, 2, 0), StopRule(4 / 5, 3, 0), StopRule(4 / 5, 2, 4), RULE,
         StopRule(4 / 5, 2, 8)]
FALSE_STOP = (f"a trial the stopper ends before its last evaluation is a false stop when its FIFO history shows it "
              f"escaping: diversity at or above its collapse threshold ({COLLAPSE_THRESHOLD} unless the trial's "
              f"params say) at an evaluation after the stop (escaped), or at least {CLIMBING_SHARE:.0%} of that "
              f"threshold at its last evaluation, the budget's end (climbing out); the others held collapsed. The "
              f"stopper alone, on every trial that ran its whole budget, whatever ASHA's rung would have done. "
              f"Updates saved: D + G network updates between the stop and the budget's end")


def whole_budget(trial: dict) -> bool:
    """Whether the trial's history runs to its budget (a FIFO trial; not one an ASHA run stopped)."""
    steps = [s for s, _ in trial["history"].get("score", [])]
    budget = int(float(trial["params"].get("max_steps", 0) or 0))
    return bool(steps) and (steps[-1] >= budget if budget else trial.get("outcome", "finished") == "finished")


def fate(trial: dict, stopped_at: int) -> str:
    """What FIFO shows of a trial after a collapse stop at step `stopped_at`: escaped, climbing or held."""
    if escape(trial, stopped_at) is not None:
        return "escaped"
    bar = float(trial["params"].get("collapse_threshold", COLLAPSE_THRESHOLD))
    return "climbing" if trial["history"]["diversity"][-1][1] >= CLIMBING_SHARE * bar else "held"


def false_stops(runs: list[tuple[str, float, dict]], rule: StopRule) -> list[dict]:
    """A row per study, budget and CPU type (the trials' `machine`, where the export says it) of what
    `rule` does to the trials that ran their whole budget: trials, stops as collapsed, false stops
    (escaped, climbing), held, updates saved, FIFO's updates, and the false stops by name. A trial found in
    two exports (the same study, setting, seed, budget and machine) counts once."""
    rows, seen = {}, set()
    for study, _, fifo in runs:
        for t in fifo.values():
            if not whole_budget(t):
                continue
            budget, machine = t["history"]["score"][-1][0] * _updates(t), t.get("machine") or "not recorded"
            if (study, t["setting"], budget, machine) in seen:
                continue
            seen.add((study, t["setting"], budget, machine))
            row = rows.setdefault((study, budget, machine), {"study": study, "budget": budget, "machine": machine,
                                                             "trials": 0, "stopped": 0, "escaped": 0, "climbing": 0,
                                                             "held": 0, "saved": 0, "fifo": 0, "false": []})
            row["trials"] += 1
            row["fifo"] += budget
            e = collapse_stop(t, rule.grace(len(t["history"]["score"])), rule.persistence, rule.stall)
            if e is None:
                continue
            step = t["history"]["score"][e - 1][0]
            what = fate(t, step)
            row["stopped"] += 1
            row[what] += 1
            row["saved"] += (t["history"]["score"][-1][0] - step) * _updates(t)
            if what != "held":
                when = escape(t, step)
                row["false"].append(f"{t['setting']} ({study}, stopped at {step:,}: "
                                    + (f"escaped at {when:,})" if when else
                                       f"climbing, diversity {t['history']['diversity'][-1][1]:.2f} at the end)"))
    return sorted(rows.values(), key=lambda r: (r["study"], r["budget"], r["machine"]))


def total(rows: list[dict], label: str) -> dict:
    """The sum of false_stops rows, named `label`."""
    out = {"study": label, "budget": None, "machine": "", "false": [x for r in rows for x in r["false"]]}
    for k in ("trials", "stopped", "escaped", "climbing", "held", "saved", "fifo"):
        out[k] = sum(r[k] for r in rows)
    return out


COUNTS = ["trials", "stopped as collapsed", "false stops (escaped + climbing)", "held collapsed", "updates saved"]


def counts(r: dict) -> list[str]:
    """A false_stops row's figures, as COUNTS names them."""
    return [str(r["trials"]), str(r["stopped"]), f"{r['escaped'] + r['climbing']} ({r['escaped']} + {r['climbing']})",
            str(r["held"]), f"{r['saved']:,} ({r['saved'] / max(r['fifo'], 1):.1%})"]


def false_stop_table(runs: list[tuple[str, float, dict]], rule: StopRule) -> tuple[str, dict]:
    """The table of `rule`'s stops, a line per study, budget and CPU type, then the totals (per CPU type
    when the exports name more than one), and its overall total row."""
    rows = false_stops(runs, rule)
    machines = sorted({r["machine"] for r in rows})
    totals = [total([r for r in rows if r["machine"] == m], f"all, {m}") for m in machines] if len(machines) > 1 else []
    whole = total(rows, "all")
    cells = []
    for r in [*rows, *totals, whole]:
        name, budget = (f"`{r['study']}`", f"{r['budget']:,}") if r["budget"] is not None else (f"**{r['study']}**", "")
        cells.append([name, budget, r["machine"], *counts(r)])
    lines = markdown_table(["study", "updates per trial", "CPU type", *COUNTS], cells)
    lines.append(f"- false stops: {'; '.join(whole['false']) or 'none'}")
    return "\n".join(lines), whole


def false_stop_report(runs: list[tuple[str, float, dict]], rules: list[StopRule] = RULES) -> str:
    """What --false-stops prints: the definition, a table per rule (the rule before first, today's marked),
    then a line per rule."""
    left_out = sum(not whole_budget(t) for _, _, fifo in runs for t in fifo.values())
    out = [f"False stops of the collapse stopper: {FALSE_STOP}."
           + (f" {left_out} trials that did not run their whole budget left out." if left_out else ""), ""]
    summary = []
    for rule in rules:
        table, whole = false_stop_table(runs, rule)
        mark = " (the rule before 2026-12-07)" if rule is RULE_BEFORE else " (the default)" if rule is RULE else ""
        out += [f"### {rule}{mark}", "", table, ""]
        summary.append([f"{rule}{mark}", *counts(whole)])
    return "\n".join(out + ["### Every rule, in total", "", *markdown_table(["rule", *COUNTS], summary)])


def top_quarter_stopped(fifo: dict, asha: dict) -> tuple[list[str], list[str]]:
    """The trials FIFO ranks in its top quarter by final score (at least one), and those of them that
    ASHA's run stopped (by ASHA or as collapsed): an early stop that cost the study a good trial."""
    ranked = sorted(fifo, key=lambda k: -fifo[k]["final"])
    top = ranked[:max(1, -(-len(ranked) // 4))]
    return top, [k for k in top if k in asha and asha[k]["outcome"] in ("stopped_early", "collapsed")]


def escape(fifo_trial: dict, stopped_at: int) -> int | None:
    """The step of the first FIFO evaluation after `stopped_at` whose diversity reached the trial's collapse
    threshold: where a trial stopped as collapsed would have escaped its collapse; None when it never did."""
    bar = float(fifo_trial["params"].get("collapse_threshold", COLLAPSE_THRESHOLD))
    return next((s for s, d in fifo_trial["history"].get("diversity", []) if s > stopped_at and d >= bar), None)


def lost_lines(fifo: dict, asha: dict, top: list[str], lost: list[str]) -> list[str]:
    """FIFO's top-quarter trials that the ASHA run stopped, by what stopped them: a rung (ranked behind
    at a budget where FIFO shows it would have ended in the top quarter: the early stop that biases
    a study's answer) or the collapse stopper (with the trial's FIFO end, and whether FIFO shows it
    escaping its collapse after the stop: only then did the stop cost the study a good trial). The
    last line counts the lost: rung stops plus collapse stops that FIFO shows escaping."""
    at_rung = [k for k in lost if asha[k]["outcome"] == "stopped_early"]
    collapsed = [k for k in lost if asha[k]["outcome"] == "collapsed"]

    def end(k):
        f = fifo[k]
        modes = f["history"].get("modes_covered") or [(0, None)]
        flag = f["history"].get("collapsed") or [(0, 0.0)]
        state = "collapsed" if flag[-1][1] else "not collapsed"
        shown = f", {modes[-1][1]:.0f} modes" if modes[-1][1] is not None else ""
        after = [d for s, d in f["history"].get("diversity", []) if s > asha[k]["rounds"]]
        step = escape(f, asha[k]["rounds"])
        fate = (f"diversity reached the collapse threshold at step {step:,}: it escaped" if step is not None else
                f"diversity at most {max(after):.2f} after the stop: it never escaped" if after else "")
        return f"{f['setting']}: FIFO final {f['final']:.3f}{shown}, {state} at its last evaluation" + \
            (f", {fate}" if fate else "")
    return [f"- FIFO's top quarter ({len(top)} trials by final score) stopped at an ASHA rung: {len(at_rung)}"
            + (f" ({', '.join(fifo[k]['setting'] for k in at_rung)})" if at_rung else ""),
            f"- FIFO's top quarter stopped as collapsed: {len(collapsed)}"
            + (f" ({'; '.join(end(k) for k in collapsed)})" if collapsed else ""),
            f"- FIFO's top quarter lost to early stops (at a rung, or as collapsed and escaping later in FIFO): "
            f"{len(cost(fifo, asha, lost))}"]


def cost(fifo: dict, asha: dict, lost: list[str]) -> list[str]:
    """The top-quarter trials the early stops cost the study: those stopped at a rung, and those stopped
    as collapsed that FIFO shows escaping their collapse afterwards."""
    return [k for k in lost if asha[k]["outcome"] == "stopped_early" or escape(fifo[k], asha[k]["rounds"]) is not None]


def updates(run: dict) -> int:
    """Network updates (D + G) summed over a run's trials."""
    return sum(t["rounds"] * _updates(t) for t in run.values())


def _updates(trial: dict) -> int:
    """Network updates per MLflow step: 1 when the budget counts updates (steps are updates), else the
    round's d_steps + g_steps."""
    if trial["params"].get("budget", "rounds") == "updates":
        return 1
    return int(trial["params"]["d_steps"]) + int(trial["params"]["g_steps"])


def _wall(parent) -> float:
    return ((parent.info.end_time or parent.info.start_time) - parent.info.start_time) / 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", default="mode_collapse")
    p.add_argument("--out", default="fifo_vs_asha", help="folder for the MLflow store and Tune storage")
    p.add_argument("--compare-only", action="store_true", help="only compare the last two runs in --out")
    p.add_argument("--replay", nargs="*", metavar="FILE",
                   help="no runs: replay ASHA and the collapse stopper on the newest FIFO run in --out (or on each "
                        "FIFO run --export wrote to a FILE, then a line per run), under --grace, --rung-tolerance, "
                        "--collapse-grace, --collapse-persistence, --collapse-stall (or --stopper-before: the "
                        "stopper's rule before 2026-12-07, which the kept ASHA runs ran under)")
    p.add_argument("--false-stops", nargs="+", metavar="FILE",
                   help="no runs: the collapse stopper's false stops (trials it ends that FIFO shows escaping) under "
                        "each candidate rule, on the trials of FIFO runs exported to FILEs (--export, or a --findings "
                        "export), a table per rule by study, budget and CPU type")
    p.add_argument("--export", metavar="FILE", help="no runs: write the newest FIFO run in --out to FILE (json), "
                                                    "for --replay FILE")
    args, extra = p.parse_known_args()
    out = Path(args.out).resolve()
    if args.export:
        study, smoothing, fifo = newest_fifo(out, args.study)
        Path(args.export).write_text(json.dumps({"study": study, "smoothing": smoothing, "trials": fifo}) + "\n")
        return 0
    if args.false_stops:
        print(false_stop_report([load(Path(f)) for f in args.false_stops]))
        return 0
    if args.replay is not None:
        rules = argparse.ArgumentParser(prog="--replay")
        rules.add_argument("--grace", type=float)
        rules.add_argument("--rung-tolerance", type=float, default=RUNG_TOLERANCE)
        rules.add_argument("--collapse-grace", type=float)
        rules.add_argument("--collapse-persistence", type=int, default=COLLAPSE_PERSISTENCE)
        rules.add_argument("--collapse-stall", type=int, default=COLLAPSE_STALL)
        rules.add_argument("--stopper-before", action="store_true")
        rule = rules.parse_args(extra)
        runs = [load(Path(f)) for f in args.replay] if args.replay else [newest_fifo(out, args.study)]
        rows = []
        for study, smoothing, fifo in runs:
            collapse_grace, stall = rule.collapse_grace, rule.collapse_stall
            if rule.stopper_before:  # the rule the kept ASHA runs ran under: the stopper's grace at the rung
                collapse_grace = rule.grace or default_grace(max(len(t["history"]["score"]) for t in fifo.values()))
                stall = RULE_BEFORE.stall
            asha = replay(fifo, rule.grace, rule.rung_tolerance, rule.collapse_persistence, smoothing,
                          collapse_grace, stall)
            print(summary(study, fifo, asha, "replayed from the FIFO run's histories, no wall clock"), end="\n\n")
            rows.append(overview_row(study, fifo, asha))
        if len(runs) > 1:
            print(overview(rows))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    if not args.compare_only:
        run(args.study, "fifo", out, extra)
        run(args.study, "asha", out, extra)
    text = compare(out, args.study)
    print(text)
    (out / "comparison.md").write_text(text + "\n")
    return 0


def newest_fifo(out: Path, study: str) -> tuple[str, float, dict]:
    """The newest FIFO run of `study` in the store under `out`: its study, its score smoothing, its trials."""
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name(study)
    parents = [p for p in client.search_runs([exp.experiment_id], "tags.role = 'study'", order_by=["start_time DESC"])
               if "'fifo'" in p.data.params.get("scheduler", "")]
    if not parents:
        raise SystemExit(f"--replay: no FIFO run of {study} in {out / 'mlflow.db'}")
    return study, float(parents[0].data.params.get("score_smoothing", 0.5)), trials(client, exp.experiment_id, parents[0])


def load(path: Path) -> tuple[str, float, dict]:
    """A FIFO run --export wrote, or a run a study's --findings exported (its trials a list, each with its
    `machine`; a trial's eval_every is its history's spacing, its score_smooth recomputed)."""
    data = json.loads(path.read_text())
    smoothing = float(data.get("smoothing", 0.5))
    if isinstance(data["trials"], dict):
        return data["study"], smoothing, data["trials"]
    out = {}
    for t in data["trials"]:
        history = {k: [tuple(p) for p in v] for k, v in t["history"].items()}
        steps = [s for s, _ in history.get("score", [])]
        params = {**t["params"], "eval_every": str(steps[1] - steps[0] if len(steps) > 1 else steps[0] if steps else 1)}
        if "score_smooth" not in history:
            smooth, history["score_smooth"] = None, []
            for step, score in history.get("score", []):
                smooth = score if smooth is None else smoothing * score + (1 - smoothing) * smooth
                history["score_smooth"].append((step, smooth))
        out[t["name"]] = {"params": params, "outcome": t.get("status"), "setting": t["name"], "history": history,
                          "rounds": steps[-1] if steps else 0, "final": history["score"][-1][1] if steps else 0.0,
                          "machine": t.get("machine"), "seconds": t.get("seconds")}
    return data["study"], smoothing, out


if __name__ == "__main__":
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sys.exit(main())
