"""A user's Python program calling the Datadog API with the official client and
the bearer token the agent keeps in DD_BEARER_TOKEN_FILE, as the README shows:
the file is read for each call, and read again when Datadog refuses the token.

  datadog_bearer.py HOST SECONDS    calls UsersApi.list_users for SECONDS against HOST

Prints {"calls", "refused", "tokens"}; exits 1 on any other API error. The test
bed's Datadog listens on loopback over plain HTTP, so the program sets the
configuration's host; without it the client goes to https://api.<DD_SITE>.
"""
import json
import sys
import time

# README: Python
import os
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import UnauthorizedException
from datadog_api_client.v2.api.users_api import UsersApi


def call_datadog(configuration, call):
    """Runs call(api_client) with the token the agent keeps in DD_BEARER_TOKEN_FILE, read for each
    call (the agent replaces it before it expires); if Datadog refuses it, reads the file once more
    and repeats the call."""
    for attempt in (1, 2):
        with open(os.environ["DD_BEARER_TOKEN_FILE"]) as f:
            configuration.access_token = f.read().strip()
        with ApiClient(configuration) as api_client:
            try:
                return call(api_client)
            except UnauthorizedException:
                if attempt == 2:
                    raise


# For example (Configuration() takes the site from DD_SITE):
#   users = call_datadog(Configuration(), lambda api_client: UsersApi(api_client).list_users())
# README: end

host, seconds = sys.argv[1], float(sys.argv[2])
configuration = Configuration(host=host)
tokens = set()
calls = refused = 0


def list_users(api_client):
    global calls, refused
    tokens.add(api_client.configuration.access_token)
    calls += 1
    try:
        return UsersApi(api_client).list_users()
    except UnauthorizedException:
        refused += 1
        raise


deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    users = call_datadog(configuration, list_users)
    if not users.data:
        raise SystemExit("no users in the answer")
    time.sleep(0.1)
print(json.dumps({"calls": calls, "refused": refused, "tokens": len(tokens)}))
