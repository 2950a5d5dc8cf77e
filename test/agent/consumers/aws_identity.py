"""What a user's Python program does to learn who it is: boto3 with its
standard configuration, not one line about ddcred. Prints {"arn": ...}."""
import json

import boto3

print(json.dumps({"arn": boto3.client("sts").get_caller_identity()["Arn"]}))
