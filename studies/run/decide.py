"""Seeds until decided: `python -m studies.<study> --decide [R4,R10]`.

Runs the settings the claims' comparisons name (`studies.report.claims`: every part
both of whose sides are in this study, or those of the claims given) under
FIFO, so every trial reaches its budget, in looks: first `--looks`' first
count of seeds a side (`claims.LOOKS`: 5, 8, 12), then, for the comparisons still undecided, more seeds up to
the next look, until each is decided (or not testable at its budget) or the
cap is reached. A decided comparison stops spending: its settings get no
more seeds unless another undecided comparison needs them. Each look is
tested at its own level (`studies.report.verdicts.look_alphas`: Pocock-type alpha
spending, at most 5% chance of a false verdict over all looks), by the same
code that writes FINDINGS.md (`studies.report.findings.evaluate`), so the verdicts
printed here are the document's.

One MLflow parent run holds every look's trials (one Tune experiment per
look, `<run>-look<k>`) and records each look (`looks/look-<k>.json`: per
comparison its seeds, level, p-values and verdict; metric `looks`). Trials
already trained in the store are copied, not trained again (`studies.run.reuse`),
so a decide run that was stopped is continued by running the same command.
"""

from __future__ import annotations

import dataclasses
import sys
import time

from studies.declare.spaces import select
from studies.plan.looks import look_points, sides_of
from studies.plan.plan import Plan
from studies.report import claims as claim_registry


def run(plan: Plan) -> int:
    """Every look of the plan's comparisons, in one parent run; 0 when every look ran, 130 when one was
    interrupted (Ctrl-C: no verdict is drawn from a look that is not whole, and no later look starts)."""
    from studies.run import execute, resume, runs_table, tracking
    from studies.report import findings, sources as findings_runs, runs as report_runs, verdicts
    from studies.run.stoppers import ErrorStopper

    opened = execute.open_store(plan)
    if opened is None:
        return 2
    client, exp_id = opened
    ids = sorted({d.split(".")[0] for d in plan.decide}, key=lambda c: int(c[1:]))
    parts = claim_registry.parts_of(plan.study.name, ids)
    study = execute.open_study(plan, client, exp_id)
    parent = study["parent_run_id"]
    tracking.set_tags(client, parent, {"gan.decide": " ".join(plan.decide),
                                       "gan.looks": ",".join(map(str, plan.looks))})
    execute.warm_scorer(plan.base)
    started = execute.start_ray(plan)
    grid = {k: v for k, v in plan.grid.items() if k != "seed"}
    alphas = verdicts.look_alphas(list(plan.looks))
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
            experiment = f"{study['experiment']}-look{k}"
            results += list(execute.run_tuner(look, {**study, "experiment": experiment}, errors))
            if errors.reason:
                print(f"python -m studies.{plan.study.name}: the first trials of look {k} all ended in the same "
                      f"error: {errors.reason}", file=sys.stderr)
                tracking.retry(client.set_terminated, parent, status="FAILED")
                return 1
            unfinished = execute.stopped_by_ctrl_c(client, parent, resume.experiment_folder(plan.storage, experiment))
            if unfinished:  # this look is not whole: no verdict from it, no later look
                print(f"Interrupted in look {k} with {unfinished} unfinished trials; no verdict was drawn from it. "
                      f"Run the same command again to continue (finished trials are reused).", file=sys.stderr)
                return 130
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
    runs_table.describe(client, parent, answer_text(parts, verdicts).splitlines())
    print(f"Open the runs table: {runs_table.address(plan.tracking_uri, study)}")
    return 0


def look_record(cid: str, index: int, result, look: int) -> dict:
    d = result.decision
    return {"part": f"{cid}.{index + 1}", "question": result.part.question, "verdict": result.verdict,
            "decided_at_look": result.look if result.verdict != "undecided" else None, "look": look,
            "n": [result.a.n if result.a else 0, result.b.n if result.b else 0],
            "permutation_p": d.permutation_p if d else None, "equivalence_p": d.equivalence_p if d else None,
            "noninferiority_p": d.noninferiority_p if d else None, "seeds_needed": d.seeds_needed if d else None}


def answer_text(parts, verdicts) -> str:
    from studies.report import findings

    lines = ["Verdicts (the same code writes FINDINGS.md from this run's export):"]
    for cid, i, part in parts:
        result = verdicts.get((cid, i))
        said = findings.verdict_words(result) if result else "not run"
        lines.append(f"- {cid} part {i + 1}, {part.question}: {said}")
    return "\n".join(lines)
