"""`python -m studies`: list the studies, one line each."""

import importlib
import pkgutil

import studies

def all_studies() -> dict:
    """Every study declaration: the modules of studies/ (not its packages) that declare a STUDY."""
    found = {}
    for module in pkgutil.iter_modules(studies.__path__):
        if not module.ispkg and not module.name.startswith("_"):
            study = getattr(importlib.import_module(f"studies.{module.name}"), "STUDY", None)
            if study is not None:
                found[study.name] = study
    return found


def main() -> None:
    for name, study in sorted(all_studies().items()):
        print(f"{name:<18} {study.summary}")
    print("\nRun one with: python -m studies.<name> [--smoke] [--dry-run] [--help]")


if __name__ == "__main__":
    main()
