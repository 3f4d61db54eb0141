"""`flightdelay gate`: may the candidate from `dvc repro` ship?

The candidate (workspace metrics after `dvc repro`) is checked against
(a) absolute floors/ceilings in params.yaml `gate:`,
(b) the metrics committed on the base ref, when both were measured on the same holdout months, and
(c) the released champion re-scored on the candidate's holdout (like for like), overall and per
    slice (carrier, origin),
(d) the backtest (`flightdelay backtest`, paths.backtest): floors on its mean and worst month, and
    the base's backtest over the months both scored, and
(e) the promotion policy (`gate.promotion`): under `better` the candidate must be shown to beat the
    champion — DeLong's paired test on the holdout, or the backtest mean by a margin when the base
    is the champion — and must not be worse than it on that backtest.
The champion comes from `--champion-bundle` (a bundle directory or the champion.tar.gz release
asset: no secret needed) or from the registry alias; a registry that is configured but cannot be
read fails the gate (RegistryError), it never means "no champion".
`decide` is pure; `gather` does the I/O (git, registry, scoring). The verdict is printed as a table,
written as JSON, and a failing verdict raises GateFailed (exit code 6).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightdelay import __version__
from flightdelay.adapters import dvcio, hashing
from flightdelay.adapters.gitio import git
from flightdelay.core.errors import ConfigError, GateFailed, ModelError, ToolError
from flightdelay.core.params import Params
from flightdelay.core.progress import say
from flightdelay.lifecycle import promotion
from flightdelay.lifecycle.gate_checks import (
    Check,
    Evidence,
    backtest_checks,
    bound_checks,
    relative_checks,
    slice_checks,
)
from flightdelay.lifecycle.gate_promotion import promotion_checks
from flightdelay.lifecycle.gate_verdict import Verdict, decide, format_table

if TYPE_CHECKING:
    import pandas as pd

    from flightdelay.lifecycle.gate_champion import Champion

VERDICT_FILE = "gate.json"
# The pure core (gate_checks, gate_promotion, gate_verdict) lives in its own modules; callers of
# the gate reach it as `gate.<name>`. The champion's side (gate_champion: scoring, so pandas,
# scikit-learn, XGBoost) is imported where a verdict is decided afresh, not when one is reused.
__all__ = [
    "Check",
    "Evidence",
    "Verdict",
    "backtest_checks",
    "bound_checks",
    "decide",
    "format_table",
    "promotion_checks",
    "relative_checks",
    "slice_checks",
]

# ---------------------------------------------------------------- I/O edges


def resolve_ref(ref: str) -> str:
    """The commit SHA of `ref`; a ref that is not there is a usage error with a fix."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ToolError as e:
        raise ConfigError(
            f"base ref {ref!r} is not a commit in this repository",
            hint="fetch it (`git fetch origin main`; CI needs fetch-depth: 0) or pass "
            "--base with an existing branch or SHA",
        ) from e


def git_json(ref: str, path: str) -> Any | None:
    """A JSON file as committed on `ref`, or None when the ref does not have it."""
    resolve_ref(ref)
    try:
        return json.loads(git("show", f"{ref}:{path}"))
    except ToolError:
        return None


def candidate_outputs(p: Params) -> tuple[dict[str, Any], list[dict[str, Any]], pd.DataFrame]:
    import pandas as pd

    metrics_path, slices_path = Path(p.paths.metrics), Path(p.paths.slices)
    holdout_path = Path(p.paths.features) / "holdout.parquet"
    for f in (metrics_path, slices_path, holdout_path, Path(p.paths.model)):
        if not f.exists():
            raise ModelError(
                f"{f} is missing: there is no candidate to gate",
                hint="run `dvc repro` first (or `make repro`)",
            )
    return (
        json.loads(metrics_path.read_text()),
        json.loads(slices_path.read_text()),
        pd.read_parquet(holdout_path),
    )


def check_up_to_date() -> None:
    proc = dvcio.run("status", "--json", check=False)
    text = proc.stdout.strip()
    if proc.returncode == 0 and text not in ("", "{}"):
        stale = sorted(json.loads(text))
        raise ModelError(
            f"the pipeline outputs are stale ({', '.join(stale)} changed since the last "
            "run): the metrics would not describe this workspace",
            hint="run `dvc repro`, then gate again",
        )


def gather(
    p: Params, *, base: str, champion_bundle: str | None, use_registry: bool, workdir: Path
) -> tuple[Evidence, Champion | None, pd.DataFrame]:
    from flightdelay.lifecycle.gate_champion import load_champion
    from flightdelay.pipeline.evaluate import load_model, score_frame

    candidate, cand_slices, holdout = candidate_outputs(p)
    base_metrics = git_json(base, p.paths.metrics)
    base_slices = git_json(base, p.paths.slices) or []
    champ, warning = load_champion(
        p, holdout, bundle_dir=champion_bundle, use_registry=use_registry, workdir=workdir
    )
    backtest_path = Path(p.paths.backtest)
    cand_md5 = hashing.file_md5(Path(p.paths.model))
    base_md5 = dvcio.parse_lock_outs(_git_text(base, "dvc.lock")).get(p.paths.model)
    paired = None
    if champ is not None and cand_md5 != champ.model_md5:
        cand_score = score_frame(load_model(p.paths), holdout)
        paired = promotion.delong(holdout["disrupted"].to_numpy(), cand_score, champ.score).to_dict()
    evidence = Evidence(
        candidate=candidate,
        candidate_slices=cand_slices,
        base=base_metrics,
        base_ref=base,
        base_slices=base_slices,
        champion=champ.metrics if champ else None,
        champion_version=champ.version if champ else "",
        champion_slices=champ.slices if champ else (),
        champion_warning=warning,
        candidate_backtest=json.loads(backtest_path.read_text()) if backtest_path.is_file() else None,
        base_backtest=git_json(base, p.paths.backtest),
        base_is_champion=champ is not None and base_md5 == champ.model_md5,
        candidate_is_champion=champ is not None and cand_md5 == champ.model_md5,
        paired=paired,
    )
    return evidence, champ, holdout


def _git_text(ref: str, path: str) -> str | None:
    try:
        return git("show", f"{ref}:{path}")
    except ToolError:
        return None


def write_verdict(verdict: Verdict, evidence: Evidence, path: Path, inputs: str | None = None) -> Path:
    """The verdict JSON; `inputs` (see `fingerprint`) lets a later gate on the same inputs reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**verdict.to_dict(evidence), "inputs": inputs}
    path.write_text(json.dumps(data, indent=2, default=float) + "\n")
    return path


def fingerprint(p: Params, *, base: str, champion_bundle: str | None, use_registry: bool) -> str | None:
    """What a verdict is a function of: the candidate's outputs, the base commit, the champion
    bundle, the gate params and this code. None when the champion would come from the registry
    (its alias can move between two runs) or an input is missing: such a verdict is not reused."""
    if champion_bundle is None and use_registry:
        return None
    files = [Path(p.paths.metrics), Path(p.paths.slices), Path(p.paths.features) / "holdout.parquet"]
    files.append(Path(p.paths.model))  # the paired test scores it
    if champion_bundle is not None:
        source = Path(champion_bundle)
        files += sorted(f for f in source.rglob("*") if f.is_file()) if source.is_dir() else [source]
    digest = hashlib.sha256()
    try:
        for f in files:
            digest.update(f"{f}\0".encode() + hashlib.sha256(f.read_bytes()).digest())
    except OSError:
        return None
    backtest = Path(p.paths.backtest)  # optional: without it the gate notes that it has none
    digest.update(hashlib.sha256(backtest.read_bytes()).digest() if backtest.is_file() else b"no backtest")
    digest.update(resolve_ref(base).encode())
    digest.update(p.gate.model_dump_json().encode())
    digest.update(f"{p.evaluate.min_slice_rows}\0{__version__}\0".encode())
    digest.update(Path(__file__).read_bytes())  # the decision's own code (a local edit between runs)
    digest.update(Path(promotion.__file__).read_bytes())  # promotion imports scipy only when it tests
    return digest.hexdigest()


def reusable(path: Path, inputs: str | None) -> Verdict | None:
    """The verdict at `path` when it was made from exactly these inputs (by `report pr`)."""
    if inputs is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return Verdict.from_dict(data) if data.get("inputs") == inputs else None
    except (ValueError, KeyError, TypeError):
        return None  # an older or foreign file: decide afresh


def run(
    p: Params,
    *,
    base: str,
    champion_bundle: str | None = None,
    use_registry: bool = True,
    out: str | None = None,
    check_stale: bool = True,
) -> Verdict:
    if check_stale:
        check_up_to_date()
    path = Path(out or Path(p.paths.pr_report) / VERDICT_FILE)
    inputs = fingerprint(p, base=base, champion_bundle=champion_bundle, use_registry=use_registry)
    verdict = reusable(path, inputs)
    if verdict is not None:
        say(f"gate: {path} was decided on these very inputs (by `report pr`): reused, nothing re-scored")
    else:
        with tempfile.TemporaryDirectory(prefix="flightdelay-gate-") as tmp:
            evidence, _, _ = gather(
                p,
                base=base,
                champion_bundle=champion_bundle,
                use_registry=use_registry,
                workdir=Path(tmp),
            )
        verdict = decide(evidence, p.gate)
        write_verdict(verdict, evidence, path, inputs)
        say(f"gate: verdict written to {path}")
    print(format_table(verdict))  # noqa: T201 - the verdict table is this command's output
    if not verdict.passed:
        raise GateFailed(
            f"the candidate must not ship: {verdict.reason()}",
            hint="see the table above; fix the change or adjust params.yaml `gate:` in a reviewed commit",
        )
    return verdict


def add_candidate_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", default="main", help="git ref the PR merges into (default: main)")
    parser.add_argument(
        "--champion-bundle",
        metavar="DIR|ARCHIVE",
        help="re-score this bundle (a directory, or the champion.tar.gz release asset) as the "
        "champion instead of reading the registry (needs no credentials)",
    )
    parser.add_argument(
        "--no-champion",
        action="store_true",
        help="do not look up the registry (gate on floors and base only)",
    )
    parser.add_argument(
        "--allow-stale",
        action="store_true",
        help="skip the `dvc status` check that the outputs match the workspace",
    )


def _handler(args: argparse.Namespace, p: Params) -> int:
    run(
        p,
        base=args.base,
        champion_bundle=args.champion_bundle,
        use_registry=not args.no_champion,
        out=args.out,
        check_stale=not args.allow_stale,
    )
    return 0


def register(sub: argparse._SubParsersAction, handlers: dict[str, Any]) -> None:  # type: ignore[type-arg]
    policy = sub.add_parser("gate", help="may the candidate ship? floors, base, champion re-scored")
    add_candidate_args(policy)
    policy.add_argument("--out", help="verdict JSON (default: <paths.pr_report>/gate.json)")
    handlers["gate"] = _handler
