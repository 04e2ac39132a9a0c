"""`python -m tuning train|serve|probe|jobs ...`: the tuned side's commands in one place."""

import sys

COMMANDS = {
    "train": "tuning.train",
    "serve": "tuning.serve",
    "probe": "tuning.probe",
    "jobs": "tuning.jobs",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command's own main; 2 for an unknown command."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        print(f"usage: python -m tuning {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    from importlib import import_module

    module = import_module(COMMANDS[args[0]])
    return int(module.main(args[1:]))


if __name__ == "__main__":
    sys.exit(main())
