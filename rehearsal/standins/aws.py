"""aws-actions/configure-aws-credentials stand-in: the "assumed role" is the local S3 server's account.

Role assumption over OIDC needs GitHub's token service and AWS STS; the rehearsal has neither, so a valid
role ARN yields the S3 server's credentials (REHEARSAL_AWS_*), exported as the real action exports an
assumed role's, plus AWS_ENDPOINT_URL (a rehearsal addition: the SDKs then talk to the local server).
"""

from __future__ import annotations

import re

from rehearsal.standins.core import StandinError, Step

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,128}$")
REGION = re.compile(r"^[a-z0-9-]+$")


def rehearsal_credentials(step: Step) -> tuple[str, str, str]:
    why = "the rehearsal harness passes the local S3 server's credentials, which stand for the role's"
    return (
        step.need_env("REHEARSAL_AWS_ACCESS_KEY_ID", why),
        step.need_env("REHEARSAL_AWS_SECRET_ACCESS_KEY", why),
        step.env.get("REHEARSAL_AWS_SESSION_TOKEN", ""),
    )


def main(step: Step) -> None:
    region = step.input("aws-region", required=True)
    if not REGION.match(region):
        raise StandinError(f"Region is not valid: {region}")
    role = step.input("role-to-assume")
    key_id, secret = step.input("aws-access-key-id"), step.input("aws-secret-access-key")
    if key_id and not secret:
        raise StandinError("'aws-secret-access-key' must be provided if 'aws-access-key-id' is provided")
    account = ""
    if role:
        if not role.startswith("arn:aws"):
            raise StandinError(
                "Source Account ID is needed if the Role Name is provided and not the Role Arn."
            )
        match = ROLE_ARN.match(role)
        if match is None:
            raise StandinError(f"Could not assume role with OIDC: Request ARN is invalid ({role})")
        account = match["account"]
        key_id, secret, session = rehearsal_credentials(step)
        step.info(f"Assuming role {role} (the rehearsal's S3 server credentials stand for it)")
    elif key_id:
        session = step.input("aws-session-token")
    else:
        raise StandinError(
            "Credentials could not be loaded, please check your action inputs: "
            "Could not load credentials from any providers"
        )
    for secret_value in (key_id, secret, session):
        step.mask(secret_value)
    step.export_variable("AWS_REGION", region)
    step.export_variable("AWS_DEFAULT_REGION", region)
    step.export_variable("AWS_ACCESS_KEY_ID", key_id)
    step.export_variable("AWS_SECRET_ACCESS_KEY", secret)
    if session:
        step.export_variable("AWS_SESSION_TOKEN", session)
    elif step.env.get("AWS_SESSION_TOKEN"):
        step.export_variable("AWS_SESSION_TOKEN", "")  # as the real action: no stale token next to new keys
    endpoint = step.env.get("REHEARSAL_AWS_ENDPOINT_URL", "")
    if role and not endpoint:
        raise StandinError(
            "REHEARSAL_AWS_ENDPOINT_URL is not set: without it the credentials would go to AWS itself"
        )
    if endpoint:
        step.export_variable("AWS_ENDPOINT_URL", endpoint)
    if account:
        if step.input("mask-aws-account-id").lower() == "true":
            step.mask(account)
        step.set_output("aws-account-id", account)
    if step.input("output-credentials").lower() == "true":
        step.set_output("aws-access-key-id", key_id)
        step.set_output("aws-secret-access-key", secret)
        if session:
            step.set_output("aws-session-token", session)
