"""Check a Ray cluster launcher file against Ray's own schema, before `ray up`.

    python -m studies.run.cluster_config cluster.yaml
    python -m studies.run.cluster_config cluster-local.yaml

Loads the YAML, fills in Ray's defaults for its provider with Ray's public
`ray.autoscaler.sdk.fillout_defaults`, and validates the result against the
schema Ray ships with its autoscaler (`ray/autoscaler/ray-schema.json`), plus
the checks `ray up` adds to the schema's (the head node type is one of the
node types, the workers' minimums fit under max_workers, a `local` provider
names its machines). No cloud credentials are needed, so this checks the
file's shape, not that the instance types or the bucket exist. A problem is
one line naming where in the file it is, exit 2.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys

import yaml


LOCAL_NODE_TYPE = "local.cluster.node"  # the one node type Ray gives every machine of a `local` provider


def check(path: str) -> dict:
    """The config with Ray's defaults filled in, or ValueError with one line: `<file>: <where>: <what>`."""
    import jsonschema

    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: {' '.join(str(err).split())}") from None
    if not isinstance(config, dict) or not isinstance(config.get("provider"), dict):
        raise ValueError(f"{path}: provider: a cluster file needs a `provider` mapping with a `type`")
    try:
        if config["provider"].get("type") == "local":
            config = local_node_types(config)
        with quiet():  # Ray's autoscaler logs and prints as it fills in defaults
            from ray.autoscaler.sdk import fillout_defaults

            prepared = fillout_defaults(config)
        jsonschema.validate(prepared, ray_schema())
        check_node_types(prepared)
    except jsonschema.ValidationError as err:
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ValueError(f"{path}: {where}: {' '.join(err.message.split())}") from None
    except (ValueError, RuntimeError, KeyError, TypeError, AssertionError) as err:
        raise ValueError(f"{path}: {' '.join(str(err).split()) or type(err).__name__}") from None
    return prepared


def ray_schema() -> dict:
    """The cluster-file schema Ray ships beside its autoscaler (the one `ray up` validates against)."""
    import importlib.resources
    import json

    return json.loads((importlib.resources.files("ray.autoscaler") / "ray-schema.json").read_text())


def local_node_types(config: dict) -> dict:
    """A `local` provider's file as `ray up` reads it: every machine is one node type, and there are as
    many workers as worker_ips."""
    provider = config["provider"]
    if "coordinator_address" in provider:
        return config
    if "head_ip" not in provider or "worker_ips" not in provider:
        raise ValueError("provider: Please supply a `head_ip` and list of `worker_ips`")
    for field in ("head_node", "worker_nodes", "available_node_types"):
        if config.get(field):
            raise ValueError(f"{field}: the field is not supported for on-premise clusters (the local provider)")
    count = len(provider["worker_ips"])
    node_type = {"node_config": {}, "resources": {}, "min_workers": count, "max_workers": count}
    return {**config, "available_node_types": {LOCAL_NODE_TYPE: node_type}, "head_node_type": LOCAL_NODE_TYPE,
            "max_workers": config.get("max_workers", count)}


def check_node_types(config: dict) -> None:
    """What `ray up` checks beyond the schema; each node type's worker counts filled in for the summary."""
    types = config["available_node_types"]
    if config.get("head_node_type") not in types:
        raise ValueError("head_node_type: `head_node_type` must be one of `available_node_types`")
    if sum(t.get("min_workers", 0) for t in types.values()) > config["max_workers"]:
        raise ValueError("max_workers: the specified global `max_workers` is smaller than the sum of "
                         "`min_workers` of all the available node types")
    for name, node_type in types.items():
        node_type.setdefault("min_workers", 0)
        node_type.setdefault("max_workers", 0 if name == config["head_node_type"] else config["max_workers"])


@contextlib.contextmanager
def quiet():
    autoscaler = logging.getLogger("ray.autoscaler")
    level = autoscaler.level
    autoscaler.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        autoscaler.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m studies.run.cluster_config CLUSTER.yaml [...]", file=sys.stderr)
        return 2
    for path in paths:
        try:
            prepared = check(path)
        except ValueError as err:
            print(f"python -m studies.run.cluster_config: error: {err}", file=sys.stderr)
            return 2
        types = ", ".join(f"{name} ({t.get('min_workers', 0)}-{t.get('max_workers', 0)})"
                          for name, t in prepared["available_node_types"].items())
        print(f"{path}: valid for Ray's {prepared['provider']['type']} provider; node types: {types}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
