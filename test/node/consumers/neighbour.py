"""A neighbour: another pod on the same node, trying to reach an injected
pod's credentials. Prints one JSON line of what it could reach.

  neighbour.py POD_IP API_PORT METRICS_PORT
"""
import json
import os
import socket
import sys
import urllib.request

pod_ip, api_port, metrics_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=3):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError as error:
        return type(error).__name__


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return {"status": response.status, "body": response.read().decode("utf-8", "replace")}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode("utf-8", "replace")}
    except OSError as error:
        return {"status": 0, "body": type(error).__name__}


print(json.dumps({
    "ownLoopbackApi": connect("127.0.0.1", api_port),
    "podIpApi": connect(pod_ip, api_port),
    "readyz": get(f"http://{pod_ip}:{metrics_port}/readyz"),
    "healthz": get(f"http://{pod_ip}:{metrics_port}/healthz"),
    "metrics": get(f"http://{pod_ip}:{metrics_port}/metrics"),
    "credentialsDir": os.path.exists("/var/run/ddcred"),
}), flush=True)
