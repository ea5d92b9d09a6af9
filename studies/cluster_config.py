"""Check a Ray cluster launcher file against Ray's own schema, before `ray up`.

    python -m studies.cluster_config cluster.yaml
    python -m studies.cluster_config cluster-local.yaml

Loads the YAML, fills in Ray's defaults for its provider and validates the
result as `ray up` does before it touches any machine (`prepare_config`, then
`validate_config`, from Ray's autoscaler); no cloud credentials are needed,
so this checks the file's shape, not that the instance types or the bucket
exist. A problem is one line naming where in the file it is, exit 2.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys

import yaml


def check(path: str) -> dict:
    """The prepared config, or ValueError with one line: `<file>: <where>: <what>`."""
    import click
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: {' '.join(str(err).split())}") from None
    if not isinstance(config, dict) or not isinstance(config.get("provider"), dict):
        raise ValueError(f"{path}: provider: a cluster file needs a `provider` mapping with a `type`")
    try:
        with quiet():  # Ray's autoscaler logs and prints as it fills in defaults
            prepared = prepare_config(config)
            validate_config(prepared)
    except jsonschema.ValidationError as err:
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ValueError(f"{path}: {where}: {' '.join(err.message.split())}") from None
    except (click.ClickException, ValueError, RuntimeError, KeyError, TypeError, AssertionError) as err:
        message = err.format_message() if isinstance(err, click.ClickException) else str(err)
        raise ValueError(f"{path}: {' '.join(message.split()) or type(err).__name__}") from None
    return prepared


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
        print("usage: python -m studies.cluster_config CLUSTER.yaml [...]", file=sys.stderr)
        return 2
    for path in paths:
        try:
            prepared = check(path)
        except ValueError as err:
            print(f"python -m studies.cluster_config: error: {err}", file=sys.stderr)
            return 2
        types = ", ".join(f"{name} ({t.get('min_workers', 0)}-{t.get('max_workers', 0)})"
                          for name, t in prepared["available_node_types"].items())
        print(f"{path}: valid for Ray's {prepared['provider']['type']} provider; node types: {types}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
