#!/usr/bin/env python3
"""Checks infra/template.yaml against the files it wires together, offline.

cfn-lint and `sam validate --lint` check the template itself but never open the state machine
behind `DefinitionUri`, nor the Cargo workspace behind each function. This script checks that:

1. every `${...}` placeholder in statemachine.asl.json has a `DefinitionSubstitutions` entry, and
   every entry is used;
2. each entry `<Name>FunctionArn` is `!GetAtt <Name>Function.Arn` of a function in the template;
3. the state machine role may invoke exactly the substituted functions;
4. there is one function per `functions/<name>` crate, with logical id `PascalCase(name)Function`,
   `BuildMethod: rust-cargolambda`, `BuildProperties.Binary: <name>`, `CodeUri` at the workspace
   root, and its own IAM role used by no other function;
5. every ARN built by hand for the state machine (the circular-dependency break) ends with the
   state machine's fixed `Name`.

Usage: python3 infra/tests/check_template.py   (needs PyYAML; exit status 1 on any problem)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
ASL = ROOT / "statemachine.asl.json"
FUNCTIONS = ROOT / "functions"

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


class Tagged:
    """A CloudFormation short-form intrinsic (`!Ref x`, `!GetAtt a.b`, ...), kept as tag + value."""

    def __init__(self, tag: str, value):
        self.tag = tag
        self.value = value

    def __repr__(self) -> str:
        return f"{self.tag} {self.value!r}"


class CfnLoader(yaml.SafeLoader):
    pass


def _construct_tagged(loader: CfnLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tagged("!" + suffix, value)


CfnLoader.add_multi_constructor("!", _construct_tagged)


def strings(value):
    """Every string inside a JSON/YAML value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, Tagged):
        yield from strings(value.value)


def getatt_arn(value) -> str | None:
    """`X` when value is `!GetAtt X.Arn` (or `{"Fn::GetAtt": [X, "Arn"]}`), else None."""
    if isinstance(value, Tagged) and value.tag == "!GetAtt":
        target = value.value if isinstance(value.value, str) else ".".join(value.value)
        name, _, attr = target.partition(".")
        return name if attr == "Arn" else None
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        name, attr = value["Fn::GetAtt"]
        return name if attr == "Arn" else None
    return None


def pascal(kebab: str) -> str:
    return "".join(part.capitalize() for part in kebab.split("-"))


def main() -> int:
    problems: list[str] = []
    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    resources: dict = template["Resources"]
    asl = json.loads(ASL.read_text())

    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    machines = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"}
    if len(machines) != 1:
        problems.append(f"expected one state machine, found {sorted(machines)}")
        return report(problems)
    (machine_id, machine), = machines.items()
    props = machine["Properties"]

    # 1. Placeholders in the ASL <-> DefinitionSubstitutions.
    placeholders = {m for s in strings(asl) for m in PLACEHOLDER.findall(s)}
    substitutions: dict = props.get("DefinitionSubstitutions", {})
    for name in sorted(placeholders - substitutions.keys()):
        problems.append(f"statemachine.asl.json uses ${{{name}}} but DefinitionSubstitutions lacks it")
    for name in sorted(substitutions.keys() - placeholders):
        problems.append(f"DefinitionSubstitutions has {name}, which statemachine.asl.json never uses")

    # 2. Each substitution is the ARN of the function its name says.
    substituted = set()
    for name, value in substitutions.items():
        target = getatt_arn(value)
        expected = name.removesuffix("Arn")
        if target is None:
            problems.append(f"DefinitionSubstitutions.{name} is not a !GetAtt <Function>.Arn")
        elif target != expected:
            problems.append(f"DefinitionSubstitutions.{name} points at {target}, expected {expected}")
        elif target not in functions:
            problems.append(f"DefinitionSubstitutions.{name} points at {target}, not a function")
        else:
            substituted.add(target)

    # 3. The state machine role invokes exactly those functions.
    role_id = getatt_arn(props.get("Role"))
    invocable: set[str] = set()
    if role_id is None or role_id not in resources:
        problems.append(f"{machine_id}.Role is not !GetAtt <Role>.Arn of a role in the template")
    else:
        for policy in resources[role_id]["Properties"].get("Policies", []):
            for stmt in policy["PolicyDocument"]["Statement"]:
                actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
                if "lambda:InvokeFunction" in actions:
                    res = stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]]
                    for r in res:
                        target = getatt_arn(r)
                        if target is None:
                            problems.append(f"{role_id} allows lambda:InvokeFunction on {r!r}")
                        else:
                            invocable.add(target)
        if invocable != substituted:
            problems.append(
                f"{role_id} may invoke {sorted(invocable)}, the ASL calls {sorted(substituted)}"
            )

    # 4. One function per crate, built from the workspace root, each with its own role.
    crates = sorted(p.name for p in FUNCTIONS.iterdir() if (p / "Cargo.toml").is_file())
    expected_ids = {pascal(c) + "Function": c for c in crates}
    for missing in sorted(expected_ids.keys() - functions.keys()):
        problems.append(f"functions/{expected_ids[missing]} has no {missing} in the template")
    for extra in sorted(functions.keys() - expected_ids.keys()):
        problems.append(f"{extra} matches no functions/<name> crate")
    roles_seen: dict[str, str] = {}
    for fid, crate in sorted(expected_ids.items()):
        if fid not in functions:
            continue
        meta = functions[fid].get("Metadata", {})
        fprops = functions[fid]["Properties"]
        if meta.get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{fid}: Metadata.BuildMethod is not rust-cargolambda")
        if meta.get("BuildProperties", {}).get("Binary") != crate:
            problems.append(f"{fid}: Metadata.BuildProperties.Binary is not {crate!r}")
        code_uri = (TEMPLATE.parent / str(fprops.get("CodeUri", ""))).resolve()
        if code_uri != ROOT:
            problems.append(f"{fid}: CodeUri resolves to {code_uri}, not the workspace root")
        role = getatt_arn(fprops.get("Role"))
        if role is None or resources.get(role, {}).get("Type") != "AWS::IAM::Role":
            problems.append(f"{fid}: Role is not !GetAtt <Role>.Arn of an AWS::IAM::Role")
        elif role in roles_seen:
            problems.append(f"{fid} shares the role {role} with {roles_seen[role]}")
        else:
            roles_seen[role] = fid

    # 5. Hand-built state machine ARNs end with the fixed name.
    name = props.get("Name")
    if not isinstance(name, Tagged) or name.tag != "!Sub" or not isinstance(name.value, str):
        problems.append(f"{machine_id}.Name must be a fixed !Sub string, got {name!r}")
    else:
        arns = [s for s in strings(template) if ":stateMachine:" in s]
        if not arns:
            problems.append("no hand-built state machine ARN found (expected in webhook/callback)")
        for arn in arns:
            if not arn.endswith(":stateMachine:" + name.value):
                problems.append(f"state machine ARN {arn!r} does not end with {name.value!r}")

    return report(problems)


def report(problems: list[str]) -> int:
    for p in problems:
        print(f"infra/tests/check_template.py: {p}", file=sys.stderr)
    if not problems:
        print("infra/template.yaml: substitutions, functions, roles and ARNs agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
