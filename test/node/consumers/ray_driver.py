"""A RayJob's entrypoint, as a Ray user writes one: the driver runs in the
head's Ray container and reports to Datadog with the standard clients, reading
nothing but the env the webhook injected (no code about ddcred).

  ray_driver.py DATADOG_URL

Prints one JSON line {"ray": "driver", "datadogToken", "datadogApi",
"awsArn", "error"?} and exits 0 only if every call succeeded, so the Ray job
(and the RayJob) fails when the driver could not use its credentials.
"""
import json
import os
import sys

result = {"ray": "driver", "datadogToken": False, "datadogApi": False, "awsArn": None}
try:
    import boto3
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.v2.api.users_api import UsersApi

    with open(os.environ["DD_BEARER_TOKEN_FILE"]) as f:
        token = f.read().strip()
    result["datadogToken"] = len(token) > 0
    with ApiClient(Configuration(host=sys.argv[1], access_token=token)) as client:
        UsersApi(client).list_users()
    result["datadogApi"] = True
    result["awsArn"] = boto3.client("sts").get_caller_identity()["Arn"]
except Exception as error:  # noqa: BLE001 - reported in the line
    result["error"] = f"{type(error).__name__}: {error}"[-400:]
print(json.dumps(result), flush=True)
sys.exit(1 if "error" in result else 0)
