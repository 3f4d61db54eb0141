"""Monitoring: drift checks against the training reference, the retraining trigger and the issue.

Layout: `core` (pure verdict; Evidently itself is behind `flightdelay.adapters.evidently`),
`sources` (reading the prediction log and partitions), `trigger` (N-of-M memory), `issue`
(open/update/close decision), `outputs` (summary JSON, markdown, Prometheus), `check` (the job),
`cli` (subcommands).
"""
