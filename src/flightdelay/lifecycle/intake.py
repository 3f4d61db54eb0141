"""`flightdelay intake`: what arrived in the landing area (a folder or S3 prefix), and a branch per
new month for the intake workflow to open as a pull request.

Landing layout: `<landing>/<YYYY-MM>/` holds one month, a BTS on-time flights CSV and an IEM ASOS
weather CSV (any file names; the layout is told by the header). A month is complete when its
folder holds exactly one file of each layout and nothing malformed. `plan` decides, from the
listing and what GitHub already has, which months get a pull request now: the complete months
that directly follow the training window, in order, each stacked on the previous one's branch (a
window can only grow by consecutive months), skipping a month whose `intake/<month>` branch or
pull request exists, so a month never gets a second one. A CSV in no known layout, or outside a
month folder, becomes an issue (one per file).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flightdelay.adapters import landing
from flightdelay.core.errors import DataError
from flightdelay.core.params import Params
from flightdelay.lifecycle import layouts
from flightdelay.lifecycle.drift.sources import next_month

BRANCH_PREFIX = "intake/"
LABEL = "data-intake"
MONTH_DIR = re.compile(r"^(\d{4}-(0[1-9]|1[0-2]))/")


@dataclass(frozen=True)
class Proposal:
    month: str
    source: str  # the month's folder in the landing area
    base: str  # the branch the pull request targets: main, or the previous month's intake branch


@dataclass(frozen=True)
class Problem:
    file: str
    problem: str

    @property
    def title(self) -> str:
        return f"Data intake: malformed file {self.file}"


@dataclass
class Plan:
    open: list[Proposal] = field(default_factory=list)
    malformed: list[Problem] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def as_json(self, known_titles: set[str]) -> dict[str, Any]:
        return {
            "open": [asdict(p) for p in self.open],
            "issues": [
                {"title": m.title, "body": issue_body(m)}
                for m in self.malformed
                if m.title not in known_titles
            ],
            "malformed": [asdict(m) for m in self.malformed],
            "skipped": self.skipped,
        }


def issue_body(m: Problem) -> str:
    return "\n".join(
        [
            f"The data intake found `{m.file}` in the landing area and cannot use it:",
            "",
            f"> {m.problem}",
            "",
            "No pull request is opened for its month until the file is replaced. Expected: one folder "
            "per month (`YYYY-MM/`) holding a BTS Reporting Carrier On-Time Performance CSV and an "
            "IEM ASOS weather CSV (see docs/fork-setup.md). Replace the file in the landing area; the "
            "next intake run picks the month up. Close this issue when done.",
            "",
        ]
    )


def _sort_files(
    prefix: str, entries: list[landing.Entry], header: Callable[[str], list[str]], plan: Plan
) -> tuple[dict[str, dict[str, list[str]]], set[str]]:
    """The landing area's files by month and layout; months with a malformed file; the rest noted."""
    kinds: dict[str, dict[str, list[str]]] = {}
    broken: set[str] = set()
    for entry in entries:
        rel = entry.url[len(prefix) :] if entry.url.startswith(prefix) else entry.url
        if not rel.lower().endswith(landing.SUFFIX):
            plan.skipped.append({"file": rel, "reason": "not a CSV file: ignored"})
            continue
        m = MONTH_DIR.match(rel)
        if not m or "/" in rel[len(m.group(0)) :]:
            plan.malformed.append(Problem(rel, "not directly in a YYYY-MM/ folder of the landing area"))
            continue
        month = m.group(1)
        try:
            layout = layouts.detect(header(entry.url), rel)
        except layouts.LayoutError as e:
            plan.malformed.append(Problem(rel, e.message))
            broken.add(month)
            continue
        kinds.setdefault(month, {}).setdefault(layout.name, []).append(entry.url)
    return kinds, broken


def _complete_months(
    prefix: str, kinds: dict[str, dict[str, list[str]]], broken: set[str], plan: Plan
) -> dict[str, str]:
    """Months with exactly one file of every layout and none malformed → their folder."""
    complete: dict[str, str] = {}
    for month, found in sorted(kinds.items()):
        twice = [k for k, urls in found.items() if len(urls) > 1]
        if twice:
            for kind in twice:
                plan.malformed.append(
                    Problem(f"{month}/", f"holds {len(found[kind])} {kind} files; keep one")
                )
            continue
        if month in broken:
            plan.skipped.append(
                {"month": month, "reason": "a file in its folder is malformed (see the issue)"}
            )
        elif len(found) < len(layouts.LAYOUTS):
            lacking = [lay.title for lay in layouts.LAYOUTS if lay.name not in found]
            plan.skipped.append(
                {"month": month, "reason": f"incomplete: no {' and no '.join(lacking)} file yet"}
            )
        else:
            complete[month] = f"{prefix}{month}/"
    return complete


def make_plan(
    root: str,
    entries: list[landing.Entry],
    header: Callable[[str], list[str]],
    *,
    window_end: str,
    tracked: set[str],
    taken: set[str],
    default_branch: str = "main",
) -> Plan:
    """`taken`: months that already have an `intake/<month>` branch or pull request (any state).
    Months are proposed in order from the one after the window, each PR based on the previous."""
    plan = Plan()
    prefix = root.rstrip("/") + "/"
    kinds, broken = _sort_files(prefix, entries, header, plan)
    complete = _complete_months(prefix, kinds, broken, plan)
    base, month = default_branch, next_month(window_end)
    while month in complete:
        if month in tracked:
            plan.skipped.append({"month": month, "reason": "already tracked on the default branch"})
        elif month in taken:
            plan.skipped.append(
                {"month": month, "reason": f"{BRANCH_PREFIX}{month} already exists (branch or PR)"}
            )
            base = f"{BRANCH_PREFIX}{month}"
        else:
            plan.open.append(Proposal(month, complete[month], base))
            base = f"{BRANCH_PREFIX}{month}"
        month = next_month(month)
    for later in sorted(set(complete) - {p.month for p in plan.open}):
        if later > month and later not in tracked and later not in taken:
            plan.skipped.append(
                {"month": later, "reason": f"waits for {month} (the window grows month by month)"}
            )
    return plan


def pr_texts(source: str, base: str) -> Callable[[list[str], tuple[str, str], str], tuple[str, str, str]]:
    def texts(months: list[str], old: tuple[str, str], new_end: str) -> tuple[str, str, str]:
        month = months[-1]
        title = f"Data intake: {month}"
        message = (
            f"intake: add {month} from the landing area, move the training window end "
            f"{old[1]} → {new_end}\n\n"
            f"Source: {source}\n"
        )
        stacked = (
            [
                f"- Based on `{base}` (the previous month's intake): merge that one first; GitHub then "
                "points this pull request at the default branch (with automatic head-branch deletion) "
                "or change its base by hand.",
            ]
            if base.startswith(BRANCH_PREFIX)
            else []
        )
        body = "\n".join(
            [
                "## Data intake",
                "",
                f"- New month: **{month}**, imported from `{source}` (BTS on-time flights and IEM ASOS "
                "weather) with `flightdelay data add --from`, validated, DVC-tracked as "
                f"`data/raw/{month}.dvc`.",
                f"- Training window: `{old[0]} … {old[1]}` → `{old[0]} … {new_end}`; {new_end} becomes the "
                "holdout, so the report shows the data diff, the drift of the new month and the champion "
                "re-scored on it.",
                *stacked,
                "",
                "This branch commits the `dvc.lock` of the retrained pipeline; the PR check reruns "
                "`dvc repro`, checks that it gives the same lock, and runs the gate and the report.",
                "",
            ]
        )
        return title, message, body

    return texts


def _names(path: str | None) -> set[str]:
    if not path:
        return set()
    try:
        data = json.loads(Path(path).read_text() or "[]")
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"cannot read {path}: {e}", hint="pass a JSON list of strings") from e
    return {str(x) for x in data}


def _plan(args: argparse.Namespace, p: Params) -> int:
    from flightdelay.lifecycle import data

    refs = _names(args.taken)
    taken = {r[len(BRANCH_PREFIX) :] for r in refs if r.startswith(BRANCH_PREFIX)}
    plan = make_plan(
        args.landing,
        landing.listing(args.landing),
        landing.header,
        window_end=p.data.window.end,
        tracked=set(data.tracked_months(Path(p.paths.raw))),
        taken=taken,
        default_branch=args.default_branch,
    )
    sys.stdout.write(json.dumps(plan.as_json(_names(args.issues)), indent=2) + "\n")
    return 0


def _prepare(args: argparse.Namespace, p: Params) -> int:
    from flightdelay.lifecycle import retrain

    res = retrain.prepare(
        p,
        [args.month],
        body_out=Path(args.body_out),
        params_path=Path(args.params),
        push=args.push,
        sources={args.month: args.source},
        branch_prefix=BRANCH_PREFIX,
        texts=pr_texts(args.source, args.base),
    )
    sys.stdout.write(json.dumps({"branch": res.branch, "commit": res.commit, "title": res.pr_title}) + "\n")
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    i = sub.add_parser("intake", help="new months in the landing area → one branch (pull request) each")
    isub = i.add_subparsers(dest="intake_cmd", required=True)
    pl = isub.add_parser("plan", help="which months get a pull request, which files an issue (JSON)")
    pl.add_argument("--landing", required=True, metavar="PATH_OR_URL", help="folder or s3://bucket/prefix")
    pl.add_argument("--taken", metavar="FILE", help="JSON list of branch names and PR head refs that exist")
    pl.add_argument("--issues", metavar="FILE", help="JSON list of the titles of existing intake issues")
    pl.add_argument("--default-branch", default="main")
    pr = isub.add_parser(
        "prepare", help="intake/<month>: data add --from + move the window + dvc repro + commit"
    )
    pr.add_argument("--month", required=True, metavar="YYYY-MM")
    pr.add_argument("--from", dest="source", required=True, metavar="PATH_OR_URL")
    pr.add_argument("--base", default="main", help="the branch the pull request will target")
    pr.add_argument("--body-out", required=True, help="where to write the PR body")
    pr.add_argument("--push", action="store_true", help="push the partition and outputs to the DVC remote")

    def handler(args: argparse.Namespace, p: Params) -> int:
        return _plan(args, p) if args.intake_cmd == "plan" else _prepare(args, p)

    handlers["intake"] = handler
