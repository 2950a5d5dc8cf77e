"""An app that keeps reading its credentials from the files the agent keeps,
as long-running apps do, and counts every read that found none, or expired
ones. Prints one JSON line per second, {"reads", "bad", "last"}; never exits.
"""
import json
import os
import time
from datetime import datetime, timezone

token_file = os.environ["DD_BEARER_TOKEN_FILE"]
aws_file = os.path.join(os.path.dirname(token_file), "aws-credentials.json")
reads = bad = 0
last_report = time.monotonic()
last = ""
while True:
    try:
        with open(token_file) as f:
            token = f.read().strip()
        with open(aws_file) as f:
            aws = json.load(f)
        expires = datetime.fromisoformat(aws["Expiration"].replace("Z", "+00:00"))
        ok = bool(token) and bool(aws.get("SecretAccessKey")) and expires > datetime.now(timezone.utc)
        last = "ok" if ok else "empty or expired"
    except Exception as error:  # noqa: BLE001 - a failed read is what this counts
        ok = False
        last = f"{type(error).__name__}: {error}"
    reads += 1
    bad += 0 if ok else 1
    if time.monotonic() - last_report >= 1:
        print(json.dumps({"reads": reads, "bad": bad, "last": last}), flush=True)
        last_report = time.monotonic()
    time.sleep(0.1)
