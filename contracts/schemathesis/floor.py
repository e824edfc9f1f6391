"""The per-operation floor of the schemathesis run (.ci/contract).

Reads schemathesis' ndjson report and counts, for every operation of the spec, the
*distinct* requests the run generated: two cases are the same when they send the same
method, path template, path parameters, query, headers, cookies, media type and body
(`Authorization` is filtered out of the report, so a fresh token never makes a request
new; what hooks.py swapped in is what counts, since the report records the cases as sent).
Cases of every phase count (examples, coverage, fuzzing, stateful); the table shows each.

An operation that declares no parameter and no body (health, readiness, me, logout) takes
no input: its requests can differ only in credentials and in undeclared headers, so its
floor is 1 distinct case; every other operation's is --min.

Fails, naming them, when an operation has fewer distinct cases than its floor, or when it
never answered a 2xx (so every operation, the account routes included, was driven at
least once with real ids, a real session and the right password: the stateful links and
hooks.py's real accounts, not only the 403 / 404 a generated id gets).

    python floor.py REPORT.ndjson --min N [--spec auth.yaml]
"""

import argparse
import json
import sys
from collections import defaultdict

PHASES = ("examples", "coverage", "fuzzing", "stateful")
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def request_key(value):
    headers = {
        name.lower(): text for name, text in (value.get("headers") or {}).items() if name.lower() != "authorization"
    }
    return json.dumps(
        [
            value.get("method", "").upper(),
            value.get("path"),
            value.get("path_parameters"),
            value.get("query"),
            headers,
            value.get("cookies"),
            value.get("media_type"),
            value.get("body"),
        ],
        sort_keys=True,
        default=str,
    )


def spec_operations(path):
    """(METHOD path) -> (operationId, takes input), in the spec's order."""
    import yaml

    with open(path, encoding="utf-8") as file:
        spec = yaml.safe_load(file)
    operations = {}
    for route, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method in METHODS:
                takes_input = bool(item.get("parameters") or operation.get("parameters") or operation.get("requestBody"))
                operations[f"{method.upper()} {route}"] = (operation.get("operationId", ""), takes_input)
    return operations


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--min", type=int, required=True, help="distinct cases every operation needs")
    parser.add_argument("--spec", help="the spec, so that an operation with no case at all is listed")
    args = parser.parse_args()

    keys = defaultdict(lambda: defaultdict(set))  # label -> phase -> request keys
    success = defaultdict(set)  # label -> request keys answered with a 2xx
    seed = None
    try:
        report = open(args.report, encoding="utf-8")
    except OSError as error:
        sys.exit(f"floor: no schemathesis report: {error}")
    with report:
        for line in report:
            event = json.loads(line)
            for name, body in event.items():
                if name == "Initialize":
                    seed = body.get("seed")
                if name != "ScenarioFinished":
                    continue
                recorder = body.get("recorder") or {}
                interactions = recorder.get("interactions") or {}
                for case_id, node in (recorder.get("cases") or {}).items():
                    value = node.get("value") or {}
                    label = f"{value.get('method', '').upper()} {value.get('path')}"
                    phase = ((value.get("meta") or {}).get("phase") or {}).get("name") or body.get("phase", "?")
                    key = request_key(value)
                    keys[label][phase].add(key)
                    response = (interactions.get(case_id) or {}).get("response") or {}
                    if 200 <= int(response.get("status_code") or 0) < 300:
                        success[label].add(key)

    operations = spec_operations(args.spec) if args.spec else {}
    # With the spec, the table is its operations; requests with other methods on its paths
    # (the coverage phase's 405 probes) are counted apart.
    labels = list(operations) or sorted(keys)
    others = sum(len(set().union(*keys[label].values())) for label in keys if operations and label not in operations)
    width = max(len(label) for label in labels) if labels else 10
    header = f"{'operation':<{width}}  {'operationId':<18}" + "".join(f"{p:>10}" for p in PHASES)
    print(f"schemathesis: distinct generated requests per operation (seed {seed}, floor {args.min})")
    print(header + f"{'distinct':>10}{'2xx':>6}")
    below, never_ok, total = [], [], 0
    for label in labels:
        phases = keys.get(label, {})
        distinct = set().union(*phases.values()) if phases else set()
        total += len(distinct)
        operation_id, takes_input = operations.get(label, ("", True))
        floor = args.min if takes_input else 1
        row = f"{label:<{width}}  {operation_id:<18}"
        row += "".join(f"{len(phases.get(p, ())):>10}" for p in PHASES)
        row += f"{len(distinct):>10}{len(success.get(label, ())):>6}"
        flags = []
        if not takes_input:
            flags.append("takes no input: floor 1")
        if len(distinct) < floor:
            below.append(label)
            flags.append(f"below the floor of {floor}")
        if not success.get(label):
            never_ok.append(label)
            flags.append("no 2xx")
        print(row + (f"  <- {', '.join(flags)}" if flags else ""))
    print(f"{len(labels)} operations, {total} distinct requests in all", end="")
    print(f" (and {others} with methods the spec does not declare: the 405 checks)" if others else "")
    failed = False
    if below:
        print(f"FAILED: under the floor ({args.min} distinct cases, 1 without input): {', '.join(below)}")
        failed = True
    if never_ok:
        print(f"FAILED: never answered a 2xx: {', '.join(never_ok)}")
        failed = True
    if not labels:
        print("FAILED: the report has no operations")
        failed = True
    if failed:
        sys.exit(1)
    print(f"every operation: at least {args.min} distinct cases (1 when it takes no input) and a 2xx")


if __name__ == "__main__":
    main()
