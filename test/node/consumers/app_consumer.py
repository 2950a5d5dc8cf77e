"""What an app in an injected pod does with what the webhook gave it, using
only the standard clients: the AWS CLI and boto3 through AWS_CONFIG_FILE
(credential_process), boto3 through the container-credentials endpoint, and
datadog-api-client with the bearer token file. Nothing here names ddcred's
API; it reads the env the webhook injected.

  app_consumer.py DATADOG_URL [--stay]

Prints one JSON line per check; with --stay it then sleeps (a long-running
app), otherwise it exits 0 if every check passed (a Job).
"""
import json
import os
import subprocess
import sys
import time

datadog_url = sys.argv[1]
stay = "--stay" in sys.argv[2:]
failed = False


def emit(check, **fields):
    print(json.dumps({"check": check, **fields}), flush=True)


def record(check, run):
    global failed
    try:
        emit(check, ok=True, **run())
    except Exception as error:  # noqa: BLE001 - each failure is reported, not raised
        failed = True
        emit(check, ok=False, error=f"{type(error).__name__}: {error}"[-600:])


token_file = os.environ.get("DD_BEARER_TOKEN_FILE", "")
emit(
    "start",
    uid=os.getuid(),
    gid=os.getgid(),
    tokenFileAtStart=bool(token_file) and os.path.exists(token_file),
    awsConfigAtStart=os.path.exists(os.environ.get("AWS_CONFIG_FILE", "/nonexistent")),
    identityEnv=sorted(k for k in os.environ if k in ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ACCESS_KEY_ID")),
)


def aws_cli():
    out = subprocess.run(["aws", "sts", "get-caller-identity", "--output", "json"], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    return {"arn": json.loads(out.stdout)["Arn"]}


BOTO3_IDENTITY = (
    "import boto3, json; s = boto3.Session(); c = s.get_credentials();"
    "print(json.dumps({'arn': s.client('sts').get_caller_identity()['Arn'], 'method': c.method}))"
)


def boto3_with(env_changes):
    def run():
        env = {**os.environ, **env_changes}
        out = subprocess.run([sys.executable, "-c", BOTO3_IDENTITY], capture_output=True, text=True, env=env, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip())
        return json.loads(out.stdout)

    return run


def datadog_client():
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.v2.api.users_api import UsersApi

    with open(os.environ["DD_BEARER_TOKEN_FILE"]) as f:
        token = f.read().strip()
    with ApiClient(Configuration(host=datadog_url, access_token=token)) as client:
        UsersApi(client).list_users()
    return {"tokenLength": len(token)}


record("aws-cli", aws_cli)
record("boto3-credential-process", boto3_with({}))
# Without the config file boto3 falls through to the container provider.
record("boto3-container-endpoint", boto3_with({"AWS_CONFIG_FILE": "/dev/null"}))
record("datadog-api-client", datadog_client)
emit("done", failed=failed)

if stay:
    while True:
        time.sleep(3600)
sys.exit(1 if failed else 0)
