"""Workflow runs as GitHub schedules them, executed by act in host mode.

An event (from the forge, or a schedule tick / manual dispatch) starts every workflow file whose
`on:` admits it, read at the commit GitHub reads it from: the pushed commit, the PR head, or the
default branch for `workflow_run`, `schedule` and `workflow_dispatch`. Runs wait in one queue
and up to `parallel` of them run at once (GitHub runs them side by side too); per concurrency
group there is one running and one pending run, and a newer pending run cancels the older one.
(`cancel-in-progress` is not applied to a running run: its act process finishes.) Fork PRs get no
secrets and no variables. Every job's result becomes a check run on the head commit, and a finished run emits
`workflow_run` / `completed`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rehearsal import standins, triggers
from rehearsal.forge_model import repo_json
from rehearsal.scopes import run_token

TAIL_LINES = 25


class RehearsalFailed(Exception):
    """A workflow run that should have passed did not; the message names workflow, job and step."""


@dataclass
class JobResult:
    id: str
    name: str
    result: str  # success | failure | skipped | cancelled
    failed_step: str | None = None
    tail: list[str] = field(default_factory=list)


@dataclass
class Run:
    id: int
    workflow: triggers.Workflow
    event: str
    payload: dict[str, Any]
    sha: str  # the commit checked out and whose workflow file runs
    ref: str
    actor: str
    trusted: bool
    group: tuple[str, bool] | None = None
    status: str = "queued"  # queued | completed | cancelled
    jobs: list[JobResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def conclusion(self) -> str:
        if self.status == "cancelled":
            return "cancelled"
        results = {j.result for j in self.jobs}
        return "failure" if "failure" in results else "success"

    def line(self) -> str:
        jobs = ", ".join(f"{j.name}={j.result}" for j in self.jobs) or "no job"
        head = f"run {self.id:>4} {self.workflow.file:<15} {self.event:<18} {self.conclusion:<9}"
        return f"{head} {self.seconds:5.0f}s  {jobs}"


@dataclass
class Engine:
    """Turns events into act runs. `forge` is the local GitHub double (see rehearsal.forge)."""

    forge: Any
    work: Path
    act: Path
    secrets: dict[str, str]
    variables: dict[str, str]
    env: dict[str, str]
    say: Callable[[str], None] = print
    parallel: int = 2
    # Workflow files whose runs nothing later in the story depends on: `pump` does not wait for them.
    background: tuple[str, ...] = ()
    runs: list[Run] = field(default_factory=list)
    queue: deque[Run] = field(default_factory=deque)
    next_id: int = 1000
    _pool: ThreadPoolExecutor | None = None
    _running: dict[Future[None], Run] = field(default_factory=dict)
    _procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    # --- which workflows an event starts ---------------------------------------------------
    def workflows_at(self, sha: str) -> list[triggers.Workflow]:
        names = self.git("ls-tree", "--name-only", sha, ".github/workflows/").split()
        return [
            triggers.Workflow.parse(Path(n).name, self.git("show", f"{sha}:{n}"))
            for n in names
            if n.endswith((".yml", ".yaml"))
        ]

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(self.forge.git.path), *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def default_head(self) -> str:
        return self.git("rev-parse", "refs/heads/main").strip()

    def dispatch(self, event: dict[str, Any]) -> None:
        """Queue the runs one forge event (or a tick/dispatch) starts."""
        kind = event["event"]
        payload = dict(event["payload"])
        if event.get("action") and "action" not in payload:
            payload["action"] = event["action"]
        actor = str(event.get("actor") or payload.get("sender", {}).get("login") or "octocat")
        trusted = True
        if kind == "push":
            sha, ref = str(payload["after"]), str(payload["ref"])
            if set(sha) == {"0"}:
                return  # a deleted ref starts nothing we use
            before = str(payload.get("before") or "")
            changed = self._changed(before, sha)
        elif kind == "pull_request":
            pr = payload["pull_request"]
            sha, ref = str(pr["head"]["sha"]), f"refs/pull/{pr['number']}/merge"
            changed = []
            trusted = not bool(pr["head"]["repo"].get("fork"))
        else:
            sha, ref, changed = self.default_head(), "refs/heads/main", []
        at = sha if kind in ("push", "pull_request") else self.default_head()
        only = Path(str(event.get("workflow") or payload.get("workflow") or "")).name  # dispatch: one file
        for wf in self.workflows_at(at):
            if only and wf.file != only:
                continue
            if kind in ("schedule", "workflow_dispatch") and kind not in wf.on:
                continue
            if not triggers.starts(wf, kind, payload, changed):
                continue
            run = Run(self.next_id, wf, kind, payload, at, ref, actor, trusted)
            self.next_id += 1
            context = {
                "github": {"sha": sha, "ref": ref, "event_name": kind, "run_id": run.id, "event": payload}
            }
            run.group = triggers.concurrency(wf, context)
            self._enqueue(run)

    def _changed(self, before: str, after: str) -> list[str]:
        if not before or set(before) == {"0"}:
            return self.git("ls-tree", "-r", "--name-only", after).split()
        return self.git("diff", "--name-only", before, after).split()

    def _enqueue(self, run: Run) -> None:
        if run.group is not None:
            for other in list(self.queue):
                if other.group is not None and other.group[0] == run.group[0]:
                    # GitHub: one pending run per group; the newer one cancels the older.
                    other.status = "cancelled"
                    self.queue.remove(other)
                    self.runs.append(other)
                    self.say(
                        f"  cancelled {other.workflow.file} run {other.id}: newer run in group {run.group[0]}"
                    )
        self.queue.append(run)

    # --- running -----------------------------------------------------------------------------
    def pump(self, *, expect_success: bool = True, everything: bool = False) -> list[Run]:
        """Run until no queued or running run is one the caller waits for, and the forge's event
        queue is empty (after a failure, only until the runs already started have finished).
        Runs of the `background` files are not waited for (unless `everything`): they keep their
        place in the queue and their slot, and finish during a later pump."""
        done: list[Run] = []
        failed: Run | None = None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="run")
        running = self._running

        def waited(run: Run) -> bool:
            return everything or run.workflow.file not in self.background

        while True:
            self._drain_forge()
            while failed is None and len(running) < self.parallel:
                # Background runs hold at most all slots but one: a run waited for never queues
                # behind them.
                side = sum(not waited(r) for r in running.values())
                run = self._next_startable(
                    {r.group[0] for r in running.values() if r.group},
                    background=everything or side < self.parallel - 1,
                )
                if run is None:
                    break
                running[self._pool.submit(self.execute, run)] = run
            if failed is not None:
                if not running:
                    break
            elif not any(waited(r) for r in (*running.values(), *self.queue)):
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                run = running.pop(future)
                future.result()  # an error of the harness itself propagates
                done.append(run)
                self.runs.append(run)
                self.say(run.line())
                self._completed(run)
                if expect_success and run.conclusion == "failure" and failed is None:
                    failed = run
        if failed is not None:
            raise RehearsalFailed(self.explain(failed))
        return done

    def close(self) -> None:
        """Stop the runs still going (a failure or Ctrl-C left them): their act processes, then the pool."""
        for proc in list(self._procs.values()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _next_startable(self, busy: set[str], *, background: bool = True) -> Run | None:
        """The oldest queued run whose concurrency group has no running run, the runs of the
        `background` files last (GitHub promises no order between queued runs), or never."""
        ready = [
            r
            for r in self.queue
            if (r.group is None or r.group[0] not in busy)
            and (background or r.workflow.file not in self.background)
        ]
        ready.sort(key=lambda r: r.workflow.file in self.background)  # stable: oldest first
        if not ready:
            return None
        self.queue.remove(ready[0])
        return ready[0]

    def _drain_forge(self) -> None:
        while True:
            event = self.forge.next_event(timeout=0)
            if event is None:
                return
            self.dispatch(event)

    def _completed(self, run: Run) -> None:
        payload = {
            "action": "completed",
            "workflow_run": {
                "id": run.id,
                "name": run.workflow.name,
                "event": run.event,
                "status": "completed",
                "conclusion": run.conclusion,
                "head_sha": run.sha,
                "head_branch": self._head_branch(run),
                "head_repository": {"full_name": self._head_repo(run)},
                "path": f".github/workflows/{run.workflow.file}",
            },
            "repository": repo_json(self.forge),
            "sender": {"login": run.actor},
        }
        self.dispatch({"event": "workflow_run", "payload": payload, "actor": run.actor})

    def _head_branch(self, run: Run) -> str:
        if run.event == "pull_request":
            return str(run.payload["pull_request"]["head"]["ref"])
        return run.ref.removeprefix("refs/heads/")

    def _head_repo(self, run: Run) -> str:
        if run.event == "pull_request":
            return str(run.payload["pull_request"]["head"]["repo"]["full_name"])
        return str(self.forge.full_name)

    def execute(self, run: Run) -> None:
        started = time.monotonic()
        try:  # what GitHub reads of the file before it starts a job
            scopes = run_token(run.workflow.permissions, run.workflow.jobs)
        except ValueError as exc:
            self._invalid(run, f"Invalid workflow file: .github/workflows/{run.workflow.file}: {exc}")
            return
        root = self.work / "runs" / str(run.id)
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        clone = root / "repo"
        subprocess.run(
            ["git", "clone", "--quiet", "--shared", "--no-checkout", str(self.forge.git.path), str(clone)],
            check=True,
        )
        branch = (
            run.ref.removeprefix("refs/heads/") if run.ref.startswith("refs/heads/") else "rehearsal-head"
        )
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", "-B", branch, run.sha], check=True)
        # act reads github.repository from the origin remote's URL.
        subprocess.run(
            [
                "git",
                "-C",
                str(clone),
                "remote",
                "set-url",
                "origin",
                f"https://github.com/{self.forge.full_name}",
            ],
            check=True,
        )
        (root / "event.json").write_text(json.dumps(act_event(run.payload)))
        # One token for all the run's jobs (as act gives it), with the scopes their `permissions:` grant.
        token = self.forge.mint_token("github_token", "github-actions[bot]", run_id=run.id, scopes=scopes)
        secrets = {"GITHUB_TOKEN": token, **(self.secrets if run.trusted else {})}
        variables = self.variables if run.trusted else {}
        log = root / "act.jsonl"
        cmd = [
            str(self.act), run.event, "--json",
            "-W", str(clone / ".github/workflows" / run.workflow.file),
            "-C", str(clone),
            "-e", str(root / "event.json"),
            "-P", "ubuntu-24.04=-self-hosted",
            "--no-skip-checkout", "--no-cache-server", "--defaultbranch", "main",
            "--action-cache-path", str(root / "act"),
            "-a", run.actor,
            "--secret-file", os.devnull, "--var-file", os.devnull, "--env-file", os.devnull,
            "--input-file", os.devnull,
            *standins.local_repository_flags(),
            *_pairs("-s", secrets), *_pairs("--var", variables),
            *_pairs("--env", {**self.env, "GITHUB_RUN_ID": str(run.id)}),
        ]  # fmt: skip
        env = runner_env(os.environ, root)
        # Its own process group: `close` stops act and every step process it started.
        with log.open("w") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            self._procs[run.id] = proc
            try:
                code = proc.wait()
            finally:
                self._procs.pop(run.id, None)
        run.jobs = self._results(run, log, code)
        run.status = "completed"
        run.seconds = time.monotonic() - started
        for job in run.jobs:
            if job.result in ("success", "failure"):
                self.forge.record_check(run.sha, job.name, job.result, run.workflow.file, run.id)
        self._record(run)

    def _invalid(self, run: Run, message: str) -> None:
        """A file GitHub refuses to run: the run fails at once, no job starts."""
        run.jobs = [JobResult("workflow", "workflow file", "failure", failed_step=message, tail=[message])]
        run.status = "completed"
        self._record(run)

    def _record(self, run: Run) -> None:
        self.forge.record_run(
            {
                "id": run.id,
                "workflow": run.workflow.file,
                "name": run.workflow.name,
                "event": run.event,
                "head_sha": run.sha,
                "conclusion": run.conclusion,
                "jobs": [{"name": j.name, "result": j.result} for j in run.jobs],
            }
        )

    def _results(self, run: Run, log: Path, code: int) -> list[JobResult]:
        results: dict[str, str] = {}
        failed: dict[str, str] = {}
        tails: dict[tuple[str, str], deque[str]] = {}
        for line in log.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            job_id = str(entry.get("jobID") or "")
            if not job_id:
                continue
            step = str(entry.get("step") or "")
            msg = str(entry.get("msg") or "").rstrip()
            if msg and entry.get("raw_output"):
                tails.setdefault((job_id, step), deque(maxlen=TAIL_LINES)).append(msg)
            if entry.get("stepResult") == "failure" and job_id not in failed:
                failed[job_id] = step
            if "jobResult" in entry:
                results[job_id] = str(entry["jobResult"])
        out = []
        for job_id, job in run.workflow.jobs.items():
            name = str(job.get("name") or job_id) if isinstance(job, Mapping) else job_id
            result = results.get(job_id, "failure" if code and not results else "skipped")
            failed_step = failed.get(job_id)
            tail = list(tails.get((job_id, failed_step), [])) if failed_step else []
            out.append(JobResult(job_id, name, result, failed_step, tail))
        return out

    def explain(self, run: Run) -> str:
        log = self.work / "runs" / str(run.id) / "act.jsonl"
        lines = [f"{run.workflow.file} run {run.id} ({run.event}) failed; act log: {log}"]
        for job in run.jobs:
            if job.result == "failure":
                lines.append(f"  job '{job.name}' failed at step: {(job.failed_step or '?').strip()[:200]}")
                lines.extend(f"    | {t}" for t in job.tail)
        return "\n".join(lines)


# What a GitHub-hosted runner does not set: credentials and GitHub context of this machine, and
# Python's "never write bytecode" (a runner writes it: every later process of a job then loads
# the compiled modules instead of compiling the environment's imports again).
NOT_ON_A_RUNNER = ("AWS_", "MLFLOW_", "GH_", "GITHUB_", "PYTHONDONTWRITEBYTECODE")


def runner_env(host: Mapping[str, str], workdir: Path) -> dict[str, str]:
    """The environment act's host-mode jobs start from: this machine's, minus what a runner lacks,
    and git kept from looking above `workdir` (the run's folder, which holds the job's workspace
    and temp folder). A runner's folders lie in no git repository; the rehearsal's lie inside this
    project's, which git would otherwise find from a step run outside the job's checkout (CML's
    would read this project's remote instead of failing as on GitHub)."""
    env = {k: v for k, v in host.items() if not k.startswith(NOT_ON_A_RUNNER)}
    ceilings = (str(workdir.resolve()), host.get("GIT_CEILING_DIRECTORIES", ""))
    env["GIT_CEILING_DIRECTORIES"] = os.pathsep.join(c for c in ceilings if c)
    return env


def act_event(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The event file act reads. act fills a `repository` object (its default branch from
    `--defaultbranch`) into an event that has none; GitHub does not: a `schedule` event carries
    none, so `github.event.repository.default_branch` is empty there. An explicit null keeps it so."""
    return {"repository": None, **payload}


def _pairs(flag: str, values: Mapping[str, str]) -> Iterable[str]:
    for key, value in values.items():
        yield flag
        yield f"{key}={value}"
