"""Secrets never printed: real commands run with credentials in every URL the environment can hold
(MLflow tracking, Pushgateway, DVC remote) and with token/AWS variables set; nothing they print,
nor any report they write, contains a credential."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers import repo_env, run

pytestmark = pytest.mark.slow

PLANTED = "s3cr" + "etPa55"  # fake credentials the test looks for (split: no literal secret)
PLANTED_T = "tok-" + "plantedToken42"  # a fake token the test looks for
AWS = "wJalrXUtnFEMI" + "K7MDENGbPxRfiCYzz"

COMMANDS = {
    "train": ["train"],  # logs the run to MLflow
    "gate": ["gate", "--base", "HEAD"],  # looks up the registry's champion
    "release verify": ["release", "verify"],
    "drift check": ["drift", "check", "--months", "2013-02"],  # pushes its gauges
    "data restore": ["data", "restore"],  # pulls from and pushes to the DVC remote
    "data add --push": ["data", "add", "2013-03", "--push"],
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_command_prints_a_credential(pipeline_repo: Path) -> None:
    repo = pipeline_repo
    env = {
        **repo_env(repo),
        "MLFLOW_TRACKING_URI": f"http://alice:{PLANTED}@127.0.0.1:{closed_port()}",
        "MLFLOW_TRACKING_TOKEN": PLANTED_T,
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        "PUSHGATEWAY_URL": f"http://pg:{PLANTED}@127.0.0.1:{closed_port()}",
        "DVC_REMOTE_URL": f"http://dvc:{PLANTED}@127.0.0.1:{closed_port()}/store?token={PLANTED_T}",
        "AWS_ACCESS_KEY_ID": "AKIA" + "ZQ3V7K2MXP9TW4LD",
        "AWS_SECRET_ACCESS_KEY": AWS,
    }
    leaks, outputs = [], {}
    for name, args in COMMANDS.items():
        proc = run(["flightdelay", *args], repo, env, check=False)
        out = proc.stdout + proc.stderr
        outputs[name] = out
        for secret in (PLANTED, PLANTED_T, AWS, env["AWS_ACCESS_KEY_ID"]):
            if secret in out:
                line = next(x for x in out.splitlines() if secret in x)
                leaks.append(f"`flightdelay {' '.join(args)}` printed it: {line[:300]}")
    assert not leaks, "\n".join(leaks)
    # The runs did reach the code that names these URLs (else the test proves nothing).
    assert "127.0.0.1" in outputs["train"] + outputs["gate"] + outputs["release verify"], outputs
    assert "Pushgateway" in outputs["drift check"] or "push" in outputs["drift check"], outputs["drift check"]
    written = [p for p in (repo / "reports").rglob("*") if p.is_file()]
    assert written
    for path in written:
        text = path.read_text(errors="replace")
        assert PLANTED not in text and PLANTED_T not in text, f"{path} holds a credential"
