"""Seeds until decided: `python -m studies.<study> --decide [R4,R10]`.

Runs the settings the claims' comparisons name (`studies.claims`: every part
both of whose sides are in this study, or those of the claims given) under
FIFO, so every trial reaches its budget, in looks: first `--looks`' first
count of seeds a side (`claims.LOOKS`: 6, 10, 16), then, for the comparisons still undecided, more seeds up to
the next look, until each is decided (or not testable at its budget) or the
cap is reached. A decided comparison stops spending: its settings get no
more seeds unless another undecided comparison needs them. Each look is
tested at its own level (`studies.stats.look_alphas`: Pocock-type alpha
spending, at most 5% chance of a false verdict over all looks), by the same
code that writes FINDINGS.md (`studies.findings.evaluate`), so the verdicts
printed here are the document's.

One MLflow parent run holds every look's trials (one Tune experiment per
look, `<run>-look<k>`) and records each look (`looks/look-<k>.json`: per
comparison its seeds, level, p-values and verdict; metric `looks`). Trials
already trained in the store are copied, not trained again (`studies.reuse`),
so a decide run that was stopped is continued by running the same command.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from studies import claims as claim_registry
from studies.plan import Plan
from studies.spaces import label_columns, point_labels, points, select


def sides_of(parts: list[tuple[str, int, claim_registry.Part]]) -> list[claim_registry.Side]:
    return list(dict.fromkeys(s for _, _, p in parts for s in (p.a, p.b)))


def setting_key(side: claim_registry.Side) -> tuple:
    """What trials a side needs: its setting and the values it sets (two sides reading one metric at two
    steps, or two metrics, of the same trials need them once)."""
    return side.labels, side.sets


def side_points(grid: dict, side: claim_registry.Side, seeds: range) -> list[dict]:
    """The grid point of the side's setting, with the values it sets, once per seed; ValueError naming the
    setting when the study's grid has no such point."""
    columns = label_columns(grid)
    wanted = {k: v for k, v in side.labels if k not in dict(side.sets)}
    found = [p for p in points({k: v for k, v in grid.items() if k != "seed"})
             if point_labels(columns, p) == wanted]
    if len(found) != 1:
        raise ValueError(f"claim side {side.setting!r}: study {side.study}'s grid has "
                         f"{'no' if not found else len(found)} such setting")
    return [{**found[0], **dict(side.sets), "seed": seed} for seed in seeds]


def look_points(grid: dict, sides: list[claim_registry.Side], seeds: range) -> list[dict]:
    chosen, seen = [], set()
    for side in sides:
        if setting_key(side) in seen:
            continue
        seen.add(setting_key(side))
        chosen += side_points(grid, side, seeds)
    return chosen


def decide_plan(plan: Plan, ids: list[str] | None) -> Plan:
    """The plan of a --decide run: FIFO over the first look's points of every side (its configs); every side's
    configs up to the cap are validated now, before Ray, so a bad side fails here."""
    from gan_core.config import TrainConfig
    from studies.spaces import expand

    parts = claim_registry.parts_of(plan.study.name, ids)
    grid = {k: v for k, v in plan.space.items() if k != "seed"}
    sides = sides_of(parts)
    for values in expand(plan.base, select(look_points(grid, sides, range(plan.looks[-1])))):
        TrainConfig.from_dict(values)  # every side at the cap is a valid trial
    first = select(look_points(grid, sides, range(plan.looks[0])))
    configs = [TrainConfig.from_dict(values) for values in expand(plan.base, first)]
    return dataclasses.replace(plan, space=first, grid=plan.space, configs=configs,
                               decide=tuple(f"{cid}.{i + 1}" for cid, i, _ in parts))


def run(plan: Plan) -> int:
    """Every look of the plan's comparisons, in one parent run; 0 when every look ran."""
    from mlflow.tracking import MlflowClient

    from studies import execute, findings, findings_runs, report_runs, stats, tracking
    from studies.stoppers import ErrorStopper

    client = MlflowClient(plan.tracking_uri)
    try:
        exp_id = tracking.experiment_id(client, plan.study.name)
        tracking.preflight(plan.tracking_uri, exp_id, plan.study.name)
    except Exception as err:  # noqa: BLE001  a store the trials cannot use: one line, before anything is logged
        print(f"python -m studies.{plan.study.name}: error: --tracking-uri: {str(err).splitlines()[0]}",
              file=sys.stderr)
        return 2
    ids = sorted({d.split(".")[0] for d in plan.decide}, key=lambda c: int(c[1:]))
    parts = claim_registry.parts_of(plan.study.name, ids)
    study = execute.open_study(plan, client, exp_id)
    parent = study["parent_run_id"]
    tracking.set_tags(client, parent, {"gan.decide": " ".join(plan.decide),
                                       "gan.looks": ",".join(map(str, plan.looks))})
    execute.warm_scorer(plan.base)
    started = execute.start_ray(plan)
    grid = {k: v for k, v in plan.grid.items() if k != "seed"}
    alphas = stats.look_alphas(list(plan.looks))
    results, pending, verdicts, previous = [], list(parts), {}, 0
    try:
        for k, (n, alpha) in enumerate(zip(plan.looks, alphas), start=1):
            if not pending:
                break
            chosen = look_points(grid, sides_of(pending), range(previous, n))
            look = dataclasses.replace(plan, space=select(chosen))
            print(f"Look {k} of {len(plan.looks)}: seeds {previous}-{n - 1} of "
                  f"{len(pending)} undecided comparison(s), {len(chosen)} trials, tested at level {alpha:.4f}",
                  flush=True)
            errors = ErrorStopper(execute.first_errors(look))
            results += list(execute.run_tuner(look, {**study, "experiment": f"{study['experiment']}-look{k}"},
                                              errors))
            if errors.reason:
                print(f"python -m studies.{plan.study.name}: the first trials of look {k} all ended in the same "
                      f"error: {errors.reason}", file=sys.stderr)
                tracking.retry(client.set_terminated, parent, status="FAILED")
                return 1
            runs = report_runs.load_study(client, plan.study.name, parent, findings_runs.KEYS)
            source = findings_runs.Source(runs, "", int(time.time() * 1000), None, None)
            record, still = [], []
            for cid, i, part in pending:
                result = findings.evaluate(cid, part, [source], plan.looks)
                verdicts[(cid, i)] = result
                record.append(look_record(cid, i, result, k))
                (still if result.verdict == "undecided" else []).append((cid, i, part))
                print(f"  {cid} part {i + 1} ({part.question}): {findings.verdict_words(result)}", flush=True)
            tracking.retry(client.log_dict, parent, {"look": k, "seeds": n, "alpha": alpha, "parts": record},
                           f"looks/look-{k}.json")
            tracking.log_metrics(client, parent, k, {"looks": float(k), "undecided": float(len(still))})
            pending, previous = still, n
    except KeyboardInterrupt:
        tracking.retry(client.set_terminated, parent, status="KILLED")
        print("Interrupted; run the same command again to continue (finished trials are reused).", file=sys.stderr)
        raise
    finally:
        if started:
            import ray
            ray.shutdown()
    every = dataclasses.replace(plan, space=select(look_points(grid, sides_of(parts), range(previous))))
    execute.store_table(every, client, study, results)
    tracking.retry(client.log_text, parent, answer_text(parts, verdicts), "answer.md")
    tracking.retry(client.set_terminated, parent)
    print(answer_text(parts, verdicts))
    print(f"Open the runs table: {tracking.ui_hint(plan.tracking_uri, study['experiment_id'])}")
    return 0


def look_record(cid: str, index: int, result, look: int) -> dict:
    d = result.decision
    return {"part": f"{cid}.{index + 1}", "question": result.part.question, "verdict": result.verdict,
            "decided_at_look": result.look if result.verdict != "undecided" else None, "look": look,
            "n": [result.a.n if result.a else 0, result.b.n if result.b else 0],
            "permutation_p": d.permutation_p if d else None, "equivalence_p": d.equivalence_p if d else None,
            "noninferiority_p": d.noninferiority_p if d else None, "seeds_needed": d.seeds_needed if d else None}


def answer_text(parts, verdicts) -> str:
    from studies import findings

    lines = ["Verdicts (the same code writes FINDINGS.md from this run's export):"]
    for cid, i, part in parts:
        result = verdicts.get((cid, i))
        said = findings.verdict_words(result) if result else "not run"
        lines.append(f"- {cid} part {i + 1}, {part.question}: {said}")
    return "\n".join(lines)
