"""The merge side as CLI subcommands: `flightdelay release [bump|verify|rollback|history|record|champion]`.

`flightdelay release` alone registers and tags the reviewed model; the subcommands move it
through the overlays and check that git, the registry, the model card and the manifests agree.
"""

from __future__ import annotations

import argparse
from typing import Any

from flightdelay.adapters import registry
from flightdelay.core.errors import ReleaseError
from flightdelay.core.params import Params
from flightdelay.lifecycle.release import deploy, overlay, publish, transaction, verify
from flightdelay.lifecycle.release.publish import out


def _release(args: argparse.Namespace, p: Params) -> int:
    cmd = args.release_cmd
    if cmd is None:
        publish.release(
            p, image_repository=args.image_repository, pr=args.pr, push=args.push, branch=args.branch
        )
    elif cmd == "bump":
        deploy.bump(
            p,
            args.env,
            version=args.version,
            digest=args.digest,
            push=args.push,
            record=args.record,
        )
    elif cmd == "rollback":
        deploy.rollback(p, to=args.to, push=args.push)
    elif cmd == "record":
        running = overlay.read(deploy.overlay_dir(p, args.env)).model_version
        if running is None:
            out(f"{args.env}: no released model in the overlay; nothing to record")
        elif deploy.record_deployment(args.env, str(running)):
            out(f"{args.env}: recorded deployment of v{running}")
        else:
            out(f"{args.env}: v{running} already recorded as deployed")
    elif cmd == "champion":
        champion = registry.alias_version("champion")
        if champion is None:
            raise ReleaseError(
                "no model carries the `champion` alias yet", hint="merge a model PR to release one"
            )
        out(champion)
    elif cmd == "history":
        if args.at:
            out(verify.running_at(args.env, args.at) or "none")
        for t, event, v in verify.history(args.env):
            if not args.at:
                out(f"{t}  {event:<11} v{v}")
    else:
        report = verify.verify(p, in_flight=args.in_flight)
        out(verify.summary(report))
        if report.problems:
            raise ReleaseError(
                f"release verify: {len(report.problems)} mismatch(es)",
                hint="see the MISMATCH lines above",
            )
    return 0


def register(sub: Any, handlers: dict[str, Any]) -> None:
    r = sub.add_parser(
        "release",
        help="register, tag and deploy the reviewed model; verify; roll back",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--image-repository", help="image name without tag (default: params.yaml)")
    r.add_argument("--pr", help="pull request number recorded on the version")
    r.add_argument(
        "--branch",
        help="the release branch: HEAD must be its tip (default: params.yaml release.branch, main)",
    )
    push_help = "push commits/tags to release.remote with rebase-and-retry (CI); default: local only"
    r.add_argument("--push", action=argparse.BooleanOptionalAction, default=False, help=push_help)
    rs = r.add_subparsers(dest="release_cmd", metavar="SUBCOMMAND")

    b = rs.add_parser("bump", help="point an overlay at the champion (or --version) and commit")
    b.add_argument("--env", required=True, help="overlay name (release.overlays)")
    b.add_argument("--version", help="model version (default: the champion alias)")
    b.add_argument("--digest", help="image digest the build reported (sha256:…), pinned too")
    b.add_argument("--push", action=argparse.BooleanOptionalAction, default=False, help=push_help)
    b.add_argument(
        "--record",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tag the version deployed_<env>_at (off for a promotion PR branch)",
    )

    rb = rs.add_parser(
        "rollback",
        help="revert the overlays to --to (default: previous) and move champion back, in a new commit",
    )
    rb.add_argument("--to", help="model version to return to (default: the `previous` alias)")
    rb.add_argument("--push", action=argparse.BooleanOptionalAction, default=False, help=push_help)

    rv = rs.add_parser(
        "verify",
        help="git tag, alias, model card and overlays agree; no half-released version (exit 8 if not)",
    )
    rv.add_argument(
        "--in-flight",
        action="store_true",
        help="another release may be running: a version still being released, with progress in the "
        f"last {int(transaction.STALE_AFTER.total_seconds() // 60)} minutes, is reported as in "
        "flight instead of half-released (release.yml's check)",
    )

    rec = rs.add_parser("record", help="tag the version an overlay runs as deployed (after a merge)")
    rec.add_argument("--env", required=True)

    rs.add_parser("champion", help="print the version the `champion` alias names (exit 8 if none)")

    h = rs.add_parser("history", help="which version ran in an environment, and when")
    h.add_argument("--env", default="production")
    h.add_argument("--at", help="ISO time (UTC): print only the version running then")
    handlers["release"] = _release
