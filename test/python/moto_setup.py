"""Creates the AWS identities the tests use in a fresh moto server, during
its unauthenticated set-up window (INITIAL_NO_AUTH_ACTION_COUNT): one IAM
user with an access key (the agent's base identity) allowed to assume the
given roles, and the roles themselves, each trusting that user.

Usage: moto_setup.py URL USER_NAME ROLE...   (a role is NAME or PATH/NAME)
DDCRED_MOTO_EXTRA_TRUST: a JSON list of more principals every role trusts,
"{account}" standing for the account ID, e.g. the session of a role assumed
with a web identity: "arn:aws:sts::{account}:assumed-role/base/session".
Prints one JSON object: accountId, accessKeyId, secretAccessKey, roleArns.
The number of IAM calls is 3 + 2 * len(roles): moto.ts sets the window to it.
"""
import json
import os
import sys

import boto3

url, user_name, *role_names = sys.argv[1:]
# Any key works inside the window; moto only counts the calls.
iam = boto3.client(
    "iam",
    endpoint_url=url,
    region_name="us-east-1",
    aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
    aws_secret_access_key="setup-window-only",
    config=boto3.session.Config(retries={"max_attempts": 1}),
)

user = iam.create_user(UserName=user_name)["User"]
iam.put_user_policy(
    UserName=user_name,
    PolicyName="assume-test-roles",
    PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}
    ),
)
key = iam.create_access_key(UserName=user_name)["AccessKey"]
account = user["Arn"].split(":")[4]
extra_trust = [p.replace("{account}", account) for p in json.loads(os.environ.get("DDCRED_MOTO_EXTRA_TRUST", "[]"))]

trust = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": [user["Arn"], *extra_trust]}, "Action": "sts:AssumeRole"}],
    }
)
permissions = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}
)
role_arns = {}
for role in role_names:
    path, _, name = role.rpartition("/")
    created = iam.create_role(RoleName=name, Path=f"/{path}/" if path else "/", AssumeRolePolicyDocument=trust)
    role_arns[role] = created["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="sts", PolicyDocument=permissions)

print(
    json.dumps(
        {
            "accountId": user["Arn"].split(":")[4],
            "accessKeyId": key["AccessKeyId"],
            "secretAccessKey": key["SecretAccessKey"],
            "roleArns": role_arns,
        }
    )
)
