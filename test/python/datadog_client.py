"""The official datadog-api-client (Python), driven from the tests: it builds
delegated proofs, exchanges them for tokens and calls the API the way a user's
program would. AWS credentials come from the standard AWS_* env vars, which is
the only place the client's AWSAuth reads them.

  proof --org ORG [--region R] [--at 2025-01-01T00:00:00]   print the proof AWSAuth builds
  list-users --host URL --token TOKEN                        UsersApi.list_users, Configuration(access_token=...)
  list-users-delegated --host URL --org ORG [--region R]     the client's own delegated flow (AWSAuth)
  validate --host URL --api-key KEY                          AuthenticationApi.validate with DD-API-KEY

Prints one JSON object on stdout; on an API error prints {"error", "status"} (other errors:
{"error", "message"}) and exits 1.
"""
import argparse
import json
import sys
from datetime import datetime

from datadog_api_client import ApiClient, Configuration
from datadog_api_client import aws as dd_aws
from datadog_api_client.exceptions import ApiException


def pin_clock(at):
    # AWSAuth signs with datetime.utcnow(); pinning it lets a test compare its
    # proof with ours byte for byte.
    fixed = datetime.fromisoformat(at)

    class PinnedDatetime(datetime):
        @classmethod
        def utcnow(cls):
            return fixed

    dd_aws.datetime = PinnedDatetime


def proof(args):
    if args.at:
        pin_clock(args.at)
    auth = dd_aws.AWSAuth(aws_region=args.region)
    data = auth.generate_aws_auth_data(args.org, auth.get_credentials())
    return {"proof": f"{data.body_encoded}|{data.headers_encoded}|{data.method}|{data.url_encoded}"}


def list_users(configuration):
    from datadog_api_client.v2.api.users_api import UsersApi

    with ApiClient(configuration) as client:
        response = UsersApi(client).list_users()
    return {"handles": [user.attributes.handle for user in response.data]}


def validate(args):
    from datadog_api_client.v1.api.authentication_api import AuthenticationApi

    configuration = Configuration(host=args.host)
    configuration.api_key["apiKeyAuth"] = args.api_key
    with ApiClient(configuration) as client:
        return {"valid": AuthenticationApi(client).validate().valid}


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("proof")
    p.add_argument("--org", required=True)
    p.add_argument("--region")
    p.add_argument("--at")
    p = commands.add_parser("list-users")
    p.add_argument("--host", required=True)
    p.add_argument("--token", required=True)
    p = commands.add_parser("list-users-delegated")
    p.add_argument("--host", required=True)
    p.add_argument("--org", required=True)
    p.add_argument("--region")
    p = commands.add_parser("validate")
    p.add_argument("--host", required=True)
    p.add_argument("--api-key", required=True)
    args = parser.parse_args()

    try:
        if args.command == "proof":
            result = proof(args)
        elif args.command == "list-users":
            result = list_users(Configuration(host=args.host, access_token=args.token))
        elif args.command == "list-users-delegated":
            result = list_users(
                Configuration(
                    host=args.host,
                    delegated_auth_provider=dd_aws.AWSAuth(aws_region=args.region),
                    delegated_auth_org_uuid=args.org,
                )
            )
        else:
            result = validate(args)
    except ApiException as error:
        print(json.dumps({"error": type(error).__name__, "status": error.status}))
        sys.exit(1)
    except Exception as error:  # ApiValueError, urllib3 connection errors, ...:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
