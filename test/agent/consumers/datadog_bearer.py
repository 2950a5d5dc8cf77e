"""A user's program calling the Datadog API with the official client and the
bearer token the agent keeps in DD_BEARER_TOKEN_FILE, as the README shows:
read the file, and read it again when the API refuses the token (it expired
and the agent has already written the next one).

  datadog_bearer.py HOST SECONDS    calls UsersApi.list_users for SECONDS
Prints {"calls", "rereads", "tokens"}; exits 1 on any other API error.
"""
import json
import os
import sys
import time

from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ApiException
from datadog_api_client.v2.api.users_api import UsersApi


def read_token():
    with open(os.environ["DD_BEARER_TOKEN_FILE"]) as f:
        return f.read().strip()


def list_users(host, token):
    with ApiClient(Configuration(host=host, access_token=token)) as client:
        UsersApi(client).list_users()


host, seconds = sys.argv[1], float(sys.argv[2])
token = read_token()
seen = {token}
calls = rereads = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        list_users(host, token)
    except ApiException as error:
        if error.status != 401:
            raise
        token = read_token()
        seen.add(token)
        rereads += 1
        list_users(host, token)
    calls += 1
    time.sleep(0.1)
print(json.dumps({"calls": calls, "rereads": rereads, "tokens": len(seen)}))
