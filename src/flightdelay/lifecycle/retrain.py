"""`retrain prepare`: a retraining branch with the new labelled months and the window moved.

It adds the months with DVC (`data add`), moves `data.window.end` in params.yaml by a text edit
(comments and layout kept), runs the pipeline (`dvc repro`), and commits all of it — params, the
`.dvc` files, dvc.lock and the metrics the stages keep in git — on `retrain/<last month>` with a
message and a PR body that link the drift evidence. The committed dvc.lock names the retrained
model: the PR check verifies that its own `dvc repro` gives the same lock, and the release ships
exactly that model. It refuses a dirty tree, and on any failure puts the repository back as it
was (branch, HEAD, files, pipeline outputs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flightdelay.adapters import dvcio, gitio
from flightdelay.core.errors import ConfigError, DataError, FlightDelayError, ToolError
from flightdelay.core.params import MONTH_RE, Params
from flightdelay.core.progress import say
from flightdelay.lifecycle import data, retrain_texts
from flightdelay.lifecycle.drift.sources import next_month

BRANCH_PREFIX = "retrain/"
END_RE = re.compile(r'^(?P<head>\s+end:\s*)(?P<q>["\']?)(?P<month>\d{4}-\d{2})(?P=q)(?P<tail>.*)$')


class RetrainError(FlightDelayError):
    """A retraining branch cannot be prepared."""

    exit_code = 8


@dataclass(frozen=True)
class Prepared:
    branch: str
    commit: str
    months: list[str]
    window: tuple[str, str]
    pr_title: str
    pr_body: Path


def _emit(text: str) -> None:
    """Machine-readable result on stdout (progress goes to stderr)."""
    sys.stdout.write(text + "\n")


def move_window_end(text: str, new_end: str) -> str:
    """Replace `data.window.end` in params.yaml text, keeping quotes, comments and layout."""
    lines = text.splitlines(keepends=True)
    section, in_window, hits = None, False, 0
    for i, line in enumerate(lines):
        if line.strip() and not line[0].isspace() and not line.lstrip().startswith("#"):
            section, in_window = line.split(":", 1)[0].strip(), False
        elif section == "data" and re.match(r"^\s+window:\s*(#.*)?$", line):
            in_window = True
        elif section == "data" and in_window and (m := END_RE.match(line.rstrip("\n"))):
            nl = line[len(line.rstrip("\n")) :]
            lines[i] = f"{m['head']}{m['q']}{new_end}{m['q']}{m['tail']}{nl}"
            hits += 1
    if hits != 1:
        raise ConfigError(
            f"found {hits} `data.window.end` entries in params.yaml, expected one",
            hint='keep `data: window: end: "YYYY-MM"` in block style',
        )
    return "".join(lines)


def check_months(months: list[str], window_end: str) -> list[str]:
    """The new months must directly follow the window, consecutive and in order."""
    bad = [m for m in months if not MONTH_RE.match(m)]
    if bad:
        raise DataError(f"{bad} are not months", hint="write them as YYYY-MM, e.g. 2013-07")
    expected, out = next_month(window_end), []
    for m in sorted(set(months)):
        if m != expected:
            raise DataError(
                f"month {m} does not follow the training window (ends {window_end}); expected {expected}",
                hint="retrain on the months right after data.window.end, in order",
            )
        out.append(m)
        expected = next_month(m)
    return out


def _check_can_branch(branch: str) -> None:
    if gitio.is_dirty():
        raise RetrainError(
            "the working tree has uncommitted changes",
            hint="commit or stash them; retrain prepare commits only its own changes",
        )
    if gitio.git("branch", "--list", branch):
        raise RetrainError(
            f"branch {branch} already exists",
            hint=f"delete it (`git branch -D {branch}`) or open its PR",
        )


@dataclass(frozen=True)
class Start:
    """Where the repository was before the branch: what a failure restores."""

    ref: str
    sha: str
    created: list[Path]  # partition folders and .dvc files that did not exist


def _restore(start: Start, branch: str) -> None:
    """Put the repository back as it was: branch, HEAD, files, pipeline outputs."""
    gitio.git("reset", "--quiet", "--hard", start.sha, check=False)
    gitio.git("switch", "--quiet", start.ref if start.ref != "HEAD" else start.sha, check=False)
    gitio.git("branch", "-D", branch, check=False)
    with contextlib.suppress(ToolError):  # the outputs dvc.lock records again (best effort)
        dvcio.run("checkout", "--quiet", check=False)
    for x in start.created:
        if x.is_dir():
            shutil.rmtree(x, ignore_errors=True)
        else:
            x.unlink(missing_ok=True)


def _retrain_on_branch(
    p: Params,
    months: list[str],
    *,
    params_path: Path,
    sources: Mapping[str, str] | None,
    message: str,
    push: bool,
) -> None:
    """Add the months, move the window, `dvc repro`, commit (and push the DVC outputs)."""
    raw, new_end, old_end = Path(p.paths.raw), months[-1], p.data.window.end
    if sources is None:
        data.add(p, months)
    else:
        for month in months:
            data.add_from(p, [sources[month]], month)
    params_path.write_text(move_window_end(params_path.read_text(), new_end))
    say(f"retrain: params.yaml data.window.end {old_end} → {new_end}")
    data.restore(p, push=False)  # every partition of the new window, for the pipeline
    say("retrain: dvc repro (trains the candidate on the new window) …")
    dvcio.run("repro", stream=True)
    tracked = [str(data.dvc_file(raw, m)) for m in months]
    gitio.git("add", str(params_path), *tracked, str(raw / ".gitignore"), "dvc.lock")
    gitio.git("add", "--update")  # stage outputs kept in git (metrics, plots); tree was clean
    gitio.git("commit", "--quiet", "-m", message)
    say(f"retrain: committed dvc.lock (model {dvcio.lock_outs().get(p.paths.model, '?')[:12]})")
    if push:
        dvcio.run("push", "--quiet")
        say("retrain: pushed the new partitions and pipeline outputs to the DVC remote")


def prepare(
    p: Params,
    months: list[str],
    *,
    evidence: Path | None = None,
    issue: int | None = None,
    evidence_url: str | None = None,
    body_out: Path | None = None,
    params_path: Path = Path("params.yaml"),
    push: bool = False,
    sources: Mapping[str, str] | None = None,
    branch_prefix: str = BRANCH_PREFIX,
    texts: Callable[[list[str], tuple[str, str], str], tuple[str, str, str]] | None = None,
) -> Prepared:
    """`sources` (month → folder or s3:// prefix) imports the months from files in the public
    layouts instead of the embedded source; `texts` writes the title, commit message and PR body."""
    months = check_months(months, p.data.window.end)
    new_end = months[-1]
    branch = f"{branch_prefix}{new_end}"
    _check_can_branch(branch)
    ev = retrain_texts.load_evidence(evidence)
    old = (p.data.window.start, p.data.window.end)
    if texts is None:
        title, message, body = retrain_texts.render_pr(months, old, new_end, ev, issue, evidence_url)
    else:
        title, message, body = texts(months, old, new_end)
    raw = Path(p.paths.raw)
    start = Start(
        gitio.git("rev-parse", "--abbrev-ref", "HEAD"),
        gitio.git("rev-parse", "HEAD"),
        [x for m in months for x in (raw / m, data.dvc_file(raw, m)) if not x.exists()],
    )
    gitio.git("switch", "--quiet", "-c", branch)
    try:
        say(f"retrain: on new branch {branch}; adding {', '.join(months)}")
        _retrain_on_branch(p, months, params_path=params_path, sources=sources, message=message, push=push)
    except BaseException as e:  # anything, even Ctrl-C: put the repository back, then re-raise
        reason = (str(e) or type(e).__name__).splitlines()[0]
        say(f"retrain: failed ({reason}); restoring {start.ref}")
        _restore(start, branch)
        raise
    out = body_out or Path(p.drift.output_dir) / "retrain-pr.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"<!-- title: {title} -->\n{body}")
    commit = gitio.git("rev-parse", "HEAD")
    say(f"retrain: committed {commit[:10]} on {branch}; PR body in {out}")
    return Prepared(
        branch=branch, commit=commit, months=months, window=(old[0], new_end), pr_title=title, pr_body=out
    )


def _handler(args: argparse.Namespace, p: Params) -> int:
    months = [next_month(p.data.window.end) if m == "next" else m for m in args.months]
    try:
        res = prepare(
            p,
            months,
            evidence=args.evidence and Path(args.evidence),
            issue=args.issue,
            evidence_url=args.evidence_url,
            body_out=args.body_out and Path(args.body_out),
            params_path=Path(args.params),
            push=args.push,
        )
    except ToolError as e:
        raise RetrainError(f"retraining branch not created: {e.message}", hint=e.hint) from e
    _emit(
        json.dumps(
            {
                "branch": res.branch,
                "commit": res.commit,
                "months": res.months,
                "window": list(res.window),
                "title": res.pr_title,
                "body": str(res.pr_body),
            }
        )
    )
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    r = sub.add_parser("retrain", help="prepare a retraining branch with new labelled months")
    rsub = r.add_subparsers(dest="retrain_cmd", required=True)
    pr = rsub.add_parser(
        "prepare", help="data add + move the window + dvc repro + commit (with dvc.lock) on retrain/<month>"
    )
    pr.add_argument(
        "--months",
        nargs="+",
        required=True,
        metavar="YYYY-MM",
        help="new months right after data.window.end (`next` = the next one)",
    )
    pr.add_argument("--evidence", help="summary.json of the drift check that asked for this")
    pr.add_argument("--issue", type=int, help="number of the drift issue to reference")
    pr.add_argument("--evidence-url", help="link to the drift run / HTML report")
    pr.add_argument("--body-out", help="where to write the PR body (default drift.output_dir)")
    pr.add_argument(
        "--push", action="store_true", help="push the new partitions and pipeline outputs to the DVC remote"
    )
    handlers["retrain"] = _handler
