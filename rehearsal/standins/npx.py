"""The rehearsal's npx: `npx [--yes] @dvcorg/cml@0.20.4 ...` runs the CML stand-in; nothing else does."""

from __future__ import annotations

import sys

from rehearsal.standins import cml

CML_PACKAGE = "@dvcorg/cml@0.20.4"
FLAGS = {"-y", "--yes", "--no", "--no-install", "-q", "--quiet", "--silent"}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    packages: list[str] = []
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option in ("-p", "--package") and args:
            packages.append(args.pop(0))
        elif option.startswith("--package="):
            packages.append(option.split("=", 1)[1])
        elif option == "--":
            break
        elif option not in FLAGS:
            sys.stderr.write(f"npx: option {option} is not emulated by the rehearsal's npx\n")
            return 1
    if not args:
        sys.stderr.write("npx: no command given\n")
        return 1
    command, rest = args[0], args[1:]
    wanted = packages or [command]
    if wanted == [CML_PACKAGE] and command in (CML_PACKAGE, "cml"):
        return cml.main(rest)
    sys.stderr.write(
        f"npx: {', '.join(wanted)} is not available offline in the rehearsal; only {CML_PACKAGE} is emulated "
        "(rehearsal/standins/cml.py)\n"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
