#!/usr/bin/env python3
"""Creates the AWS resources of the local AWS stack (scripts/local-aws) on a running moto server:

1. switches on moto's Step Functions execution (and Lambda without Docker), which must happen
   before the state machine is created;
2. the DynamoDB table, exactly as `iras_adapters::dynamo::create_table` creates it (and the SAM
   template declares it): string keys `pk` (hash) / `sk` (range), on-demand billing, the global
   secondary index `gsi1` (`gsi1pk` hash, `gsi1sk` range, all attributes projected) and TTL on
   `expires_at`. This is a mirror of that Rust function, kept in step with it by hand; an existing
   table is left as it is;
3. the state machine from the real statemachine.asl.json, each `${<Name>FunctionArn}` replaced by
   `arn:aws:lambda:<region>:<account>:function:<binary>` (`${GatherContextFunctionArn}` ->
   `gather-context`), as SAM's DefinitionSubstitutions does on AWS. An existing state machine of
   that name gets the new definition.

It prints `TABLE_NAME=...` and `STATE_MACHINE_ARN=...`. Needs boto3 (the venv of moto[server]).

Usage: local_aws_setup.py --endpoint http://127.0.0.1:PORT --moto http://127.0.0.1:PORT
           --definition statemachine.asl.json --functions-dir functions [--table iras]
           [--state-machine iras]
"""

import argparse
import json
import re
import sys
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

REGION = "us-east-1"
# moto's default account.
ACCOUNT = "123456789012"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def kebab(pascal: str) -> str:
    """`GatherContext` -> `gather-context`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", pascal).lower()


def function_arn(binary: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{binary}"


def substitute(definition: str, functions_dir: Path) -> str:
    binaries = {p.name for p in functions_dir.iterdir() if (p / "Cargo.toml").is_file()}

    def one(m: re.Match) -> str:
        name = m.group(1)
        if not name.endswith("FunctionArn"):
            sys.exit(f"local_aws_setup: unknown placeholder ${{{name}}} in the definition")
        binary = kebab(name[: -len("FunctionArn")])
        if binary not in binaries:
            sys.exit(
                f"local_aws_setup: ${{{name}}} names the function {binary!r}, "
                f"which is not in {functions_dir}/"
            )
        return function_arn(binary)

    out = PLACEHOLDER.sub(one, definition)
    json.loads(out)  # still valid JSON
    return out


def wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception as e:  # noqa: BLE001 - anything means "not yet"
            if time.monotonic() > deadline:
                sys.exit(f"local_aws_setup: {url} did not answer within {seconds:.0f} s: {e}")
            time.sleep(0.1)


def configure_moto(moto: str) -> None:
    body = json.dumps(
        {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    ).encode()
    req = urllib.request.Request(
        f"{moto}/moto-api/config", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 200 and r.status != 201:
            sys.exit(f"local_aws_setup: POST /moto-api/config answered {r.status}")


def create_table(ddb, table: str) -> None:
    """A mirror of iras_adapters::dynamo::create_table."""
    try:
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi1",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    except ddb.exceptions.ResourceInUseException:
        pass
    ddb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    ttl = ddb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    if not (ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName") == "expires_at"):
        ddb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )


def create_state_machine(sfn, name: str, definition: str) -> str:
    role = f"arn:aws:iam::{ACCOUNT}:role/{name}-state-machine"
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    existing = {
        m["name"]: m["stateMachineArn"]
        for page in sfn.get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
    }
    if name in existing:
        sfn.update_state_machine(stateMachineArn=existing[name], definition=definition, roleArn=role)
        return existing[name]
    out = sfn.create_state_machine(name=name, definition=definition, roleArn=role, type="STANDARD")
    if out["stateMachineArn"] != arn:
        print(f"local_aws_setup: note: the state machine ARN is {out['stateMachineArn']}", file=sys.stderr)
    return out["stateMachineArn"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="AWS endpoint for DynamoDB and Step Functions")
    p.add_argument("--moto", required=True, help="moto's own URL, for /moto-api/config")
    p.add_argument("--definition", required=True, type=Path)
    p.add_argument("--functions-dir", required=True, type=Path)
    p.add_argument("--table", default="iras")
    p.add_argument("--state-machine", default="iras")
    a = p.parse_args()

    wait_for(f"{a.moto}/moto-api/data.json")
    configure_moto(a.moto)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    cfg = Config(retries={"max_attempts": 3, "mode": "standard"})
    ddb = session.client("dynamodb", endpoint_url=a.endpoint, config=cfg)
    sfn = session.client("stepfunctions", endpoint_url=a.endpoint, config=cfg)
    create_table(ddb, a.table)
    definition = substitute(a.definition.read_text(), a.functions_dir)
    arn = create_state_machine(sfn, a.state_machine, definition)
    print(f"TABLE_NAME={a.table}")
    print(f"STATE_MACHINE_ARN={arn}")


if __name__ == "__main__":
    main()
