#!/usr/bin/env python3
"""Apps and service plans of a namespace, read from the Kubernetes API with the official
`kubernetes` client (pip install 'kubernetes==37.*').

    python3 dromos_status.py -n shop          # a table of Apps, a tree per Package plan
    python3 dromos_status.py -n shop --json   # the same as one JSON document

Dromos keeps everything an operator looks at in the objects' `status`, so a client needs no
Dromos library: it lists the custom objects of group `dromos.io`, version `v1alpha1`, and
reads the fields that `dromos schema App` and `dromos schema Package` describe.
"""

import argparse
import json
import sys

from kubernetes import client, config

GROUP, VERSION = "dromos.io", "v1alpha1"

# Instance counts of an App's status, in the order `dromos status` shows them.
COUNTS = ("instances", "running", "healthy", "unhealthy", "staged")


def list_objects(api, namespace, plural):
    """The namespace's objects of one Dromos kind (plural: apps, packages), sorted by name."""
    items = api.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]
    return sorted(items, key=lambda o: o["metadata"]["name"])


def app_summary(app):
    status = app.get("status", {})
    summary = {"name": app["metadata"]["name"], "state": status.get("state", "")}
    # A count the operator has not written yet is 0, as `dromos status` shows it.
    summary.update({k: status.get(k, 0) for k in COUNTS})
    return summary


def plan_summary(plan):
    return {
        "name": plan["name"],
        "status": plan["status"],
        "paused": plan.get("paused", False),
        "message": plan.get("message", ""),
        "phases": [
            {
                "name": phase["name"],
                "status": phase["status"],
                "strategy": phase["strategy"],
                "steps": [
                    {
                        "name": step["name"],
                        "pod": step["pod"],
                        "index": step["index"],
                        "status": step["status"],
                        "action": step["action"],
                        "message": step.get("message", ""),
                    }
                    for step in phase.get("steps", [])
                ],
            }
            for phase in plan.get("phases", [])
        ],
    }


def package_summary(package):
    status = package.get("status", {})
    return {
        "name": package["metadata"]["name"],
        "package": package["spec"]["name"],
        "installedVersion": status.get("installedVersion", ""),
        "plans": [plan_summary(p) for p in status.get("plans", [])],
    }


def print_tree(plan):
    """A plan as `dromos service plan show` draws it."""
    paused = " paused" if plan["paused"] else ""
    print(f"{plan['name']} ({plan['status']}){paused}")
    for i, phase in enumerate(plan["phases"]):
        last = i + 1 == len(plan["phases"])
        print(f"{'└─' if last else '├─'} {phase['name']} ({phase['strategy']} strategy) ({phase['status']})")
        for j, step in enumerate(phase["steps"]):
            branch = "└─" if j + 1 == len(phase["steps"]) else "├─"
            note = f": {step['message']}" if step["message"] else ""
            print(f"{'   ' if last else '│  '}{branch} {step['name']} ({step['status']}){note}")
    if plan["message"]:
        print(plan["message"])


def print_text(doc):
    print(f"{'APP':<24} {'STATE':<10} " + " ".join(f"{k.upper():>9}" for k in COUNTS))
    for app in doc["apps"]:
        print(f"{app['name']:<24} {app['state']:<10} " + " ".join(f"{app[k]:>9}" for k in COUNTS))
    for package in doc["packages"]:
        print()
        print(f"package {package['name']} ({package['package']} {package['installedVersion'] or 'not installed'})")
        for plan in package["plans"]:
            print_tree(plan)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    # KUBECONFIG or ~/.kube/config; inside a pod, its service account.
    try:
        config.load_kube_config()
        _, context = config.list_kube_config_contexts()
        namespace = args.namespace or context["context"].get("namespace", "default")
    except config.ConfigException:
        config.load_incluster_config()
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
            namespace = args.namespace or f.read().strip()

    api = client.CustomObjectsApi()
    doc = {
        "namespace": namespace,
        "apps": [app_summary(a) for a in list_objects(api, namespace, "apps")],
        "packages": [package_summary(p) for p in list_objects(api, namespace, "packages")],
    }
    if args.json:
        json.dump(doc, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
        print()
    else:
        print_text(doc)


if __name__ == "__main__":
    main()
