"""Validate custom resources against the CRDs in infra/crds/ (no API server needed).

Stricter than the server in one way that matters: a field unknown to the schema is an error here, where the
API server would prune it silently and the job would run without the setting.
"""
from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path

CRD_DIR = Path(__file__).resolve().parents[2] / "infra" / "crds"
CRD_FILES = {
    ("trainer.kubeflow.org/v1alpha1", "TrainJob"): "trainer.kubeflow.org_trainjobs.yaml",
    ("kubeflow.org/v1", "PyTorchJob"): "kubeflow.org_pytorchjobs.yaml",
    ("trainer.kubeflow.org/v1alpha1", "ClusterTrainingRuntime"): "trainer.kubeflow.org_clustertrainingruntimes.yaml",
}
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@lru_cache(maxsize=None)
def _schema(api_version: str, kind: str) -> dict:
    import yaml

    name = CRD_FILES.get((api_version, kind))
    if name is None:
        raise ValueError(f"no CRD for {api_version} {kind} in {CRD_DIR}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load((CRD_DIR / name).read_text(), Loader=loader)
    version = api_version.split("/")[1]
    (v,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return _strict(copy.deepcopy(v["schema"]["openAPIV3Schema"]))


def _strict(node: dict) -> dict:
    """OpenAPI structural schema -> JSON Schema: closed objects, int-or-string, nested recursively."""
    if node.get("x-kubernetes-int-or-string"):
        node.pop("type", None)
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        node.setdefault("additionalProperties", False)
    for key in ("properties", "patternProperties"):
        for child in node.get(key, {}).values():
            _strict(child)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _strict(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        for child in node.get(key, []):
            _strict(child)
    return node


def validate(obj: dict) -> list[str]:
    """Every problem with `obj` as "path: message"; empty when the object is valid."""
    import jsonschema

    errors = []
    name = obj.get("metadata", {}).get("name", "")
    if not _DNS_LABEL.match(name) or len(name) > 63:     # the CRDs' CEL rules on metadata.name
        errors.append(f"metadata.name: {name!r} is not an RFC 1035 label of at most 63 characters")
    schema = _schema(obj.get("apiVersion", ""), obj.get("kind", ""))
    validator = jsonschema.Draft7Validator(schema)
    for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in e.absolute_path) or "(root)"
        errors.append(f"{path}: {e.message}")
    return errors
