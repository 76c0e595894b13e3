"""Turn schemas obtained from package registries into the files kubeconform reads, offline.

    python schemas.py kubernetes WHEEL VERSION OUT
        Kubernetes: the `kubernetes-validate` wheel (PyPI) ships JSON Schemas generated from the
        Kubernetes OpenAPI document for each minor version, in a "local-strict" layout whose files
        point into a shared `_definitions.json` by an absolute URL. kubeconform would try to fetch
        that URL, so each top-level kind is written as a standalone file instead: the definitions it
        reaches are copied under its own `$defs`. Output: OUT/vVERSION-standalone-strict/
        {kind}-{group}-{version}.json, the names kubeconform derives from a resource.

    python schemas.py crds OUT K8S_SCHEMA CRD.yaml...
        CustomResourceDefinitions: each served version's `openAPIV3Schema` becomes
        OUT/{group}/{kind}_{version}.json (lower-case kind), made strict the way kubeconform's
        openapi2jsonschema does it, with four fixes for what that tool gets wrong:
          - an object that has `properties` and no `additionalProperties` refuses unknown fields,
            except where the CRD says `x-kubernetes-preserve-unknown-fields: true` (a topic's
            free-form `config` stays free-form);
          - the root is strict too (its apiVersion/kind/metadata are declared), so a typo in a
            top-level field is caught;
          - `x-kubernetes-int-or-string` accepts an integer or a string; `nullable` accepts null;
          - `metadata` is checked as Kubernetes' ObjectMeta (a CRD says only "object"), taken from
            K8S_SCHEMA, one of the standalone files written above, so `metadata.lables` fails.

Needs PyYAML for the CRDs (validate.sh installs it under .local/).
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

DEFS_URL = re.compile(r"^/api/_definitions\.json#/\$defs/(.+)$")


# --- Kubernetes ------------------------------------------------------------------------------


def kubernetes(wheel: Path, version: str, out: Path) -> int:
    prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
    target = out / f"v{version}-standalone-strict"
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".json")]
        if not names:
            raise SystemExit(f"{wheel} has no schemas for Kubernetes {version} (looked for {prefix})")
        defs = json.loads(z.read(prefix + "_definitions.json"))["$defs"]
        written = 0
        for name in names:
            filename = name[len(prefix) :]
            if filename.startswith("_") or filename == "all.json":
                continue
            schema = json.loads(z.read(name))
            if "x-kubernetes-group-version-kind" not in schema:
                continue  # a nested type, never looked up by kubeconform
            (target / filename).write_text(json.dumps(standalone(schema, defs)))
            written += 1
    return written


def standalone(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema with every definition it reaches copied in, and every $ref local."""
    schema = {k: v for k, v in schema.items() if k != "$id"}  # its $id would make refs remote
    needed: dict[str, Any] = {}
    pending: list[str] = []

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            result = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    match = DEFS_URL.match(value)
                    name = match.group(1) if match else value.removeprefix("#/$defs/")
                    if name == value:
                        raise SystemExit(f"unexpected $ref {value}")
                    if name not in needed:
                        needed[name] = None
                        pending.append(name)
                    result[key] = f"#/$defs/{name}"
                else:
                    result[key] = rewrite(value)
            return result
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    result = rewrite(schema)
    while pending:
        name = pending.pop()
        needed[name] = rewrite(defs[name])
    result["$defs"] = dict(sorted(needed.items()))
    return result


def reachable(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The definitions that `node` reaches through local $refs."""
    found: dict[str, Any] = {}
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] not in found:
                found[ref[8:]] = defs[ref[8:]]
                pending.append(defs[ref[8:]])
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
    return found


# --- CRDs ------------------------------------------------------------------------------------


def crds(out: Path, k8s_schema: Path, files: list[Path]) -> int:
    import yaml

    meta = json.loads(k8s_schema.read_text())
    object_meta = {
        "metadata": meta["properties"]["metadata"],
        "$defs": reachable(meta["properties"]["metadata"], meta["$defs"]),
    }
    written = 0
    for file in files:
        for doc in yaml.safe_load_all(file.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = version.get("schema", {}).get("openAPIV3Schema")
                if schema is None:
                    raise SystemExit(f"{file}: {kind} {version['name']} has no openAPIV3Schema")
                target = out / group / f"{kind.lower()}_{version['name']}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(crd_schema(schema, group, version["name"], kind, object_meta)))
                written += 1
    return written


def crd_schema(
    schema: dict[str, Any], group: str, version: str, kind: str, object_meta: dict[str, Any]
) -> dict[str, Any]:
    root = strict(schema)
    props = root.setdefault("properties", {})
    # apiVersion and kind as the resource must spell them; metadata as the API server takes it.
    props["apiVersion"] = {**props.get("apiVersion", {}), "type": "string", "enum": [f"{group}/{version}"]}
    props["kind"] = {**props.get("kind", {}), "type": "string", "enum": [kind]}
    props["metadata"] = object_meta["metadata"]
    root["$defs"] = {**root.get("$defs", {}), **object_meta["$defs"]}
    root["additionalProperties"] = False
    root["required"] = sorted(set(root.get("required", [])) | {"apiVersion", "kind", "metadata"})
    return root


def strict(node: Any) -> Any:
    """A schema node made strict, recursing only through the keywords that hold schemas."""
    if not isinstance(node, dict):
        return node
    result = dict(node)
    if "properties" in result:
        result["properties"] = {name: strict(sub) for name, sub in result["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(result.get(key), dict):
            result[key] = strict(result[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if isinstance(result.get(key), list):
            result[key] = [strict(sub) for sub in result[key]]
    if result.pop("x-kubernetes-int-or-string", False):
        result.pop("type", None)
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if result.pop("nullable", False) and isinstance(result.get("type"), str):
        result["type"] = [result["type"], "null"]
    if (
        "properties" in result
        and "additionalProperties" not in result
        and not result.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


def main(argv: list[str]) -> None:
    if len(argv) >= 4 and argv[0] == "kubernetes":
        count = kubernetes(Path(argv[1]), argv[2], Path(argv[3]))
        print(f"  {count} Kubernetes {argv[2]} schemas")
    elif len(argv) >= 4 and argv[0] == "crds":
        count = crds(Path(argv[1]), Path(argv[2]), [Path(f) for f in argv[3:]])
        print(f"  {count} schemas from {len(argv) - 3} CRD files")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
