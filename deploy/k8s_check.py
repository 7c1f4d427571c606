"""Render every overlay of k8s/ and check each resource offline, without a cluster: `make k8s-check`.

Core resources are checked against the Kubernetes OpenAPI schemas that kubernetes-validate ships, custom
resources against the openAPIV3Schema of their CRD vendored under k8s/crds/ (k8s/crds/README.md). Both are
strict: an unknown field fails, since the API server would refuse it (core) or silently drop it (custom), and
either way the setting would not be what the manifest says. CEL rules (x-kubernetes-validations) are not
evaluated.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ROOT / "k8s" / "overlays"
CRDS = ROOT / "k8s" / "crds"
KUBERNETES = "1.32"  # the oldest Kubernetes the manifests are for
KUSTOMIZE = "sigs.k8s.io/kustomize/kustomize/v5@v5.5.0"  # the kustomize of kubectl 1.32, built when kubectl is missing
TOOLS = ROOT / "var" / "tools"

Gvk = tuple[str, str, str]  # group, version, kind


@dataclass(frozen=True)
class Problem:
    """One field of one resource that its schema refuses."""

    resource: str  # Kind/name
    field: str  # dotted path, e.g. spec.template.spec.containers[0].bogus
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.field or '(the resource)'}: {self.message}"


def kustomize() -> list[str]:
    """kubectl's kustomize, else a kustomize binary, else one built with `go install` (Go module proxy)."""
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    built = TOOLS / "kustomize"
    if not built.exists() and shutil.which("go"):
        subprocess.run(["go", "install", KUSTOMIZE], check=True, env={**os.environ, "GOBIN": str(TOOLS)})
    if built.exists():
        return [str(built), "build"]
    raise SystemExit(f"k8s-check needs kubectl, or go to build {KUSTOMIZE}: neither is on PATH")


def render(overlay: Path) -> list[dict[str, Any]]:
    done = subprocess.run([*kustomize(), str(overlay)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kustomize failed on {overlay.relative_to(ROOT)}:\n{done.stderr}")
    return [r for r in yaml.load_all(done.stdout, Loader=yaml.CSafeLoader) if r]


def load_crds(folder: Path = CRDS) -> dict[Gvk, dict[str, Any]]:
    """The strict schema of every served version of every vendored CRD."""
    schemas = {}
    for path in sorted(folder.rglob("*.yaml")):
        for crd in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served", True):
                    gvk = (spec["group"], version["name"], spec["names"]["kind"])
                    schemas[gvk] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The CRD's structural schema as JSON Schema that refuses unknown fields and accepts `nullable` nulls."""
    schema = copy.deepcopy(schema)
    for node in nodes(schema):
        if node.get("nullable") and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        open_ended = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
        if "properties" in node and not open_ended:
            node["additionalProperties"] = False
    return schema


def nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every schema object inside a schema (properties, items, allOf/anyOf/oneOf, additionalProperties)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for child in schema.get("properties", {}).values():
        yield from nodes(child)
    for key in ("items", "additionalProperties", "not"):
        yield from nodes(schema.get(key))
    for key in ("allOf", "anyOf", "oneOf"):
        for child in schema.get(key, []):
            yield from nodes(child)


def gvk(resource: dict[str, Any]) -> Gvk:
    group, _, version = str(resource.get("apiVersion", "")).rpartition("/")
    return group, version, str(resource.get("kind", ""))


def check(resources: Iterable[dict[str, Any]], crds: dict[Gvk, dict[str, Any]]) -> list[Problem]:
    problems = []
    for resource in resources:
        name = f"{resource.get('kind')}/{(resource.get('metadata') or {}).get('name')}"
        schema = crds.get(gvk(resource))
        if schema is not None:
            validator = jsonschema.Draft202012Validator(schema)
            problems += [problem(name, error) for error in validator.iter_errors(resource)]
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(problem(name, error))
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(Problem(name, "apiVersion", f"{resource.get('apiVersion')} {resource.get('kind')} is "
                                    f"neither in Kubernetes {KUBERNETES} nor in a CRD under k8s/crds/"))
    return problems


def problem(name: str, error: jsonschema.ValidationError) -> Problem:
    """Name the field itself, also when the error is an unknown key of the object that holds it."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        path += sorted(key for key in error.instance if key not in known)[:1]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return Problem(name, field, error.message)


def main() -> int:
    crds = load_crds()
    failed = False
    for overlay in sorted(p for p in OVERLAYS.iterdir() if p.is_dir()):
        resources = render(overlay)
        problems = check(resources, crds)
        custom = sum(gvk(r) in crds for r in resources)
        for found in problems:
            print(f"{overlay.name}: {found}")
        verdict = f"{len(problems)} problem(s)" if problems else "valid"
        print(f"{overlay.name}: {len(resources)} resources ({len(resources) - custom} core against Kubernetes "
              f"{KUBERNETES}, {custom} custom against k8s/crds/): {verdict}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
