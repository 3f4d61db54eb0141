"""The docs cannot drift from the code: every fenced shell command in README.md and docs/*.md is
checked. `make` targets exist in the Makefile; `flightdelay …` commands parse with the CLI's own
parser; repository files they name exist; the cheap ones (`--help`, `--version`, `make help`,
`flightdelay data list`) run and succeed."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from flightdelay import cli
from tests.helpers import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.S | re.M)
# Paths under these are written by commands (outputs, caches, scratch), not part of the tree.
GENERATED = ("reports/", "models/", "data/", ".rehearsal/", ".demo/", ".bench/", "build/", ".venv")
SEPARATORS = {"&&", "||", ";", "|", "&"}
CHEAP = (("--help",), ("--version",), ("data", "list"))
FLIGHTDELAY = ("flightdelay", ".venv/bin/flightdelay")


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {shlex.join(self.argv)}"


def _commands(page: Path) -> list[Command]:
    text = page.read_text()
    name = page.relative_to(REPO_ROOT).as_posix() if page.is_relative_to(REPO_ROOT) else page.name
    out = []
    for fence in FENCE.finditer(text):
        if fence.group(1) not in SHELL_FENCES:
            continue
        first = text.count("\n", 0, fence.start(2)) + 1
        body = fence.group(2).replace("\\\n", " ")
        pending, start = "", 0
        for offset, raw in enumerate(body.splitlines()):
            line = raw.strip().removeprefix("$ ")
            if not pending and (not line or line.startswith("#")):
                continue
            pending, start = (f"{pending}\n{line}", start) if pending else (line, offset)
            try:
                tokens = _tokens(pending)
            except ValueError:  # a quoted argument that goes on over the next lines
                continue
            pending = ""
            argv: list[str] = []
            for token in [*tokens, ";"]:
                if token in SEPARATORS:
                    while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):  # VAR=value cmd
                        argv.pop(0)
                    if argv:
                        out.append(Command(name, first + start, tuple(argv)))
                    argv = []
                else:
                    argv.append(token)
    return out


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commenters = True, "#"
    return list(lexer)


COMMANDS = [c for page in PAGES for c in _commands(page)]


def _makefile_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.M))


def _flightdelay_args(c: Command) -> list[str] | None:
    """The arguments of a `flightdelay` command; a synopsis's `[--to N]` is read as `--to 1`."""
    argv = [re.sub(r"^[A-Z]+$", "1", a.strip("[]")) for a in c.argv if a.strip("[]")]
    if argv[0] in FLIGHTDELAY:
        return argv[1:]
    if argv[:3] in (["python", "-m", "flightdelay"], [".venv/bin/python", "-m", "flightdelay"]):
        return argv[3:]
    return None


def _repo_paths(c: Command) -> list[str]:
    """Arguments that name a file or folder of this repository (not outputs, URLs or placeholders)."""
    found = []
    for token in c.argv[1:]:
        value = token.split("=", 1)[1] if token.startswith("-") and "=" in token else token
        if value.startswith(("-", "/", "~", "$", "<")) or "://" in value or "<" in value or "…" in value:
            continue
        if value.startswith(GENERATED):
            continue
        top = value.split("/", 1)[0]
        tracked_top = (REPO_ROOT / top).exists() and top not in ("", ".")
        if ("/" in value and tracked_top) or re.search(r"\.(py|ya?ml|md|toml|txt|json|cfg)$", value):
            if "/" not in value and not (REPO_ROOT / value).exists() and not tracked_top:
                continue  # a bare file name that is an argument, e.g. predictions.jsonl
            found.append(value)
    return found


def test_the_pages_have_commands_to_check() -> None:
    pages = {c.page for c in COMMANDS}
    assert "README.md" in pages
    assert len(pages) >= 6, pages
    assert any(_flightdelay_args(c) is not None for c in COMMANDS)
    assert any(c.argv[0] == "make" for c in COMMANDS)


@pytest.mark.parametrize("c", [c for c in COMMANDS if c.argv[0] == "make"], ids=str)
def test_make_targets_exist(c: Command) -> None:
    targets = _makefile_targets()
    wanted = [a for a in c.argv[1:] if not a.startswith("-") and "=" not in a]
    assert wanted, f"{c}: no target"
    missing = [t for t in wanted if t not in targets]
    assert not missing, f"{c}: no Makefile target {missing}"


@pytest.mark.parametrize("c", [c for c in COMMANDS if _flightdelay_args(c) is not None], ids=str)
def test_flightdelay_commands_parse(c: Command) -> None:
    args = _flightdelay_args(c)
    assert args is not None
    parser, _ = cli.build_parser(args)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(args)
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
    assert code == 0, f"{c}: {err.getvalue().strip()}"


@pytest.mark.parametrize("c", [c for c in COMMANDS if _repo_paths(c)], ids=str)
def test_files_named_by_commands_exist(c: Command) -> None:
    missing = [p for p in _repo_paths(c) if not any(REPO_ROOT.glob(p.rstrip("/")))]
    assert not missing, f"{c}: {missing} not in the repository"


def _cheap(c: Command) -> bool:
    args = _flightdelay_args(c)
    if c.argv[:2] == ("make", "help"):
        return True
    return args is not None and any(tuple(args[-len(tail) :]) == tail for tail in CHEAP)


@pytest.mark.parametrize("c", [c for c in COMMANDS if _cheap(c)], ids=str)
def test_cheap_commands_run(c: Command) -> None:
    args = _flightdelay_args(c)
    if args is None:
        proc = subprocess.run(
            list(c.argv), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0 and proc.stdout.strip(), f"{c}: {proc.stderr}"
        return
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.chdir(REPO_ROOT):
        try:
            code = cli.main(args)
        except SystemExit as e:
            code = int(e.code or 0)
    assert code == 0 and out.getvalue().strip(), f"{c}: exit {code}"


def test_the_checker_catches_what_drifted(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\nmake no-such-target\nflightdelay data add --no-such-flag\n"
        "cat deploy/no-such-file.yaml\n```\n"
    )
    found = _commands(page)
    assert [c.argv[0] for c in found] == ["make", "flightdelay", "cat"]
    with pytest.raises(AssertionError, match="no Makefile target"):
        test_make_targets_exist(found[0])
    with pytest.raises(AssertionError, match="unrecognized arguments"):
        test_flightdelay_commands_parse(found[1])
    with pytest.raises(AssertionError, match="not in the repository"):
        test_files_named_by_commands_exist(found[2])


LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_links_between_pages_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


PARTS = [
    *("pipeline", "pull-requests", "release-and-rollback", "serving", "monitoring", "deployment"),
    *("fork-setup", "reliability", "benchmarks"),
]


def test_the_front_page_fits_and_links_one_page_per_part() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "```mermaid" in text
    for part in PARTS:
        assert f"](docs/{part}.md)" in text, part
        assert (REPO_ROOT / "docs" / f"{part}.md").is_file(), part


def test_the_holdout_figures_are_the_committed_metrics() -> None:
    """docs/pipeline.md's holdout table is reports/metrics.json (dvc repro writes it)."""
    metrics = json.loads((REPO_ROOT / "reports" / "metrics.json").read_text())
    text = (REPO_ROOT / "docs" / "pipeline.md").read_text()
    keys = ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall", "positive_rate")
    keys += ("accuracy", "calibration_error")
    row = "| " + " | ".join(f"{metrics[k]:.4f}" if i < 4 else f"{metrics[k]:.3f}" for i, k in enumerate(keys))
    assert row + " |" in text, f"docs/pipeline.md should show {row} |"
