"""Every stand-in's entry point: `python3 -m rehearsal.standins <module>.<function> main|post <dir>`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from rehearsal.standins.core import StandinError, Step

USAGE = "usage: python3 -m rehearsal.standins <module>.<function> main|post <action dir>"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[1] not in ("main", "post") or "." not in args[0]:
        sys.stderr.write(f"{USAGE}\n")
        return 2
    entry, stage, action_dir = args
    module_name, function_name = entry.rsplit(".", 1)
    step = Step.load(Path(action_dir))
    try:
        if stage == "main":  # a post step sees the same inputs; they were checked when the step ran
            step.validate_inputs()
        function = getattr(importlib.import_module(f"rehearsal.standins.{module_name}"), function_name)
        function(step)
    except StandinError as exc:
        step.error(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
