"""Check what a schema cannot: that the rendered resources fit together.

    python crossref.py RENDERED.yaml

kubeconform checks each resource alone. This checks the references between them, and the rules
this deployment keeps, and prints every violation (exit 1 if any):
  - names are valid Kubernetes names (a schema takes any string: `brand-BR-0001` would pass);
  - every ConfigMap, Secret, ServiceAccount, and HPA target a Deployment names exists, or is a
    secret an operator creates from a resource here (CloudNativePG's <cluster>-app, the Strimzi
    User Operator's <user>, the cluster operator's <kafka>-cluster-ca-cert);
  - every same-namespace pod selector in a Service, PodDisruptionBudget or NetworkPolicy selects
    some pod: a Deployment's, or one an operator runs for a Cluster or Kafka here;
  - every container runs as the restricted profile wants it, with requests, limits and probes;
  - BW_DATABASE_URL uses the asyncpg scheme; BW_KAFKA_BOOTSTRAP names a listener of a Kafka here;
  - Kafka: topics, users and node pools belong to a Kafka here; a topic's replicas fit its
    brokers and exceed min.insync.replicas; every literal topic in an ACL is a KafkaTopic here.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAMED_AS_LABEL = {"Service", "Namespace"}  # DNS-1035 labels, at most 63 characters

problems: list[str] = []


def problem(resource: dict[str, Any], text: str) -> None:
    problems.append(f"{resource['kind']}/{resource['metadata'].get('name')}: {text}")


def selects(selector: dict[str, str], pods: list[dict[str, str]]) -> bool:
    return any(all(pod.get(k) == v for k, v in selector.items()) for pod in pods)


def main(path: Path) -> None:
    resources = [r for r in yaml.safe_load_all(path.read_text()) if r]
    by_kind: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in resources:
        by_kind[r["kind"]][r["metadata"]["name"]] = r

    # Names.
    for r in resources:
        name = r["metadata"]["name"]
        if r["kind"] in NAMED_AS_LABEL:
            if not DNS_LABEL.match(name) or len(name) > 63:
                problem(r, f"name {name!r} is not a DNS-1035 label")
        elif not DNS_SUBDOMAIN.match(name) or len(name) > 253:
            problem(r, f"name {name!r} is not a DNS-1123 subdomain")

    kafkas = by_kind["Kafka"]
    clusters = by_kind["Cluster"]
    kafka_users = by_kind["KafkaUser"]

    # The pods this deployment runs: its Deployments', and those the operators run.
    pods: list[dict[str, str]] = []
    for d in by_kind["Deployment"].values():
        pods.append(d["spec"]["template"]["metadata"].get("labels", {}))
    for c in clusters:
        pods.append({"cnpg.io/cluster": c})
    for k in kafkas:
        base = {"strimzi.io/cluster": k, "strimzi.io/kind": "Kafka"}
        pods.append({**base, "strimzi.io/name": f"{k}-kafka", "strimzi.io/broker-role": "true"})
        pods.append({**base, "strimzi.io/name": f"{k}-kafka", "strimzi.io/controller-role": "true"})
        pods.append({**base, "strimzi.io/name": f"{k}-entity-operator"})

    secrets = (
        set(by_kind["Secret"])
        | {f"{c}-app" for c in clusters}
        | set(kafka_users)
        | {f"{k}-cluster-ca-cert" for k in kafkas}
    )
    config_maps = set(by_kind["ConfigMap"])

    for d in by_kind["Deployment"].values():
        check_deployment(d, pods, secrets, config_maps, set(by_kind["ServiceAccount"]))

    for kind in ("Service", "PodDisruptionBudget"):
        for r in by_kind[kind].values():
            selector = r["spec"]["selector"]
            selector = selector.get("matchLabels", selector) if kind == "PodDisruptionBudget" else selector
            if not selects(selector, pods):
                problem(r, f"selector {selector} selects no pod")

    for hpa in by_kind["HorizontalPodAutoscaler"].values():
        target = hpa["spec"]["scaleTargetRef"]
        if target["name"] not in by_kind[target["kind"]]:
            problem(hpa, f"scales {target['kind']}/{target['name']}, which is not here")
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            problem(hpa, "minReplicas > maxReplicas")

    for np in by_kind["NetworkPolicy"].values():
        check_network_policy(np, pods)

    check_kafka(by_kind)

    if problems:
        print(f"{path.name}: {len(problems)} problem(s)")
        for p in problems:
            print(f"  {p}")
        sys.exit(1)
    print(f"{path.name}: {len(resources)} resources, references consistent")


def check_deployment(
    d: dict[str, Any], pods: list[dict[str, str]], secrets: set[str], config_maps: set[str], accounts: set[str]
) -> None:
    spec = d["spec"]["template"]["spec"]
    if not all(
        d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in d["spec"]["selector"]["matchLabels"].items()
    ):
        problem(d, "selector does not match its own pod template")
    if spec.get("serviceAccountName", "default") not in accounts:
        problem(d, f"service account {spec.get('serviceAccountName')} is not here")
    pod_security = spec.get("securityContext", {})
    if not pod_security.get("runAsNonRoot") or pod_security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(d, "pod securityContext needs runAsNonRoot and seccompProfile RuntimeDefault")
    for volume in spec.get("volumes", []):
        if "secret" in volume and volume["secret"]["secretName"] not in secrets:
            problem(d, f"volume {volume['name']}: secret {volume['secret']['secretName']} is made by nothing here")
        if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
            problem(d, f"volume {volume['name']}: config map {volume['configMap']['name']} is not here")
    containers = spec.get("initContainers", []) + spec["containers"]
    for c in containers:
        where = f"container {c['name']}"
        sc = c.get("securityContext", {})
        if not (
            sc.get("readOnlyRootFilesystem")
            and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"]
        ):
            problem(d, f"{where}: needs readOnlyRootFilesystem, no privilege escalation, capabilities drop ALL")
        resources = c.get("resources", {})
        if not {"cpu", "memory"} <= set(resources.get("requests", {})) or "memory" not in resources.get("limits", {}):
            problem(d, f"{where}: needs cpu and memory requests and a memory limit")
        for source in c.get("envFrom", []):
            if "configMapRef" in source and source["configMapRef"]["name"] not in config_maps:
                problem(d, f"{where}: config map {source['configMapRef']['name']} is not here")
        for env in c.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] not in secrets:
                problem(d, f"{where}: {env['name']} reads secret {ref['name']}, which nothing here makes")
            if env["name"] == "BW_DATABASE_URL" and not env.get("value", "").startswith("postgresql+asyncpg://"):
                problem(d, f"{where}: BW_DATABASE_URL must use the postgresql+asyncpg:// scheme")
    for c in spec["containers"]:
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                problem(d, f"container {c['name']}: no {probe}")


def check_network_policy(np: dict[str, Any], pods: list[dict[str, str]]) -> None:
    spec = np["spec"]
    selectors = [spec["podSelector"].get("matchLabels", {})]
    for rule in spec.get("ingress", []):
        selectors += [
            p["podSelector"].get("matchLabels", {})
            for p in rule.get("from", [])
            if "podSelector" in p and "namespaceSelector" not in p
        ]
    for rule in spec.get("egress", []):
        selectors += [
            p["podSelector"].get("matchLabels", {})
            for p in rule.get("to", [])
            if "podSelector" in p and "namespaceSelector" not in p
        ]
    for selector in selectors:
        if not selects(selector, pods):
            problem(np, f"pod selector {selector} selects no pod here")


def check_kafka(by_kind: dict[str, dict[str, dict[str, Any]]]) -> None:
    kafkas = by_kind["Kafka"]
    brokers: dict[str, int] = defaultdict(int)
    for kind in ("KafkaNodePool", "KafkaTopic", "KafkaUser"):
        for r in by_kind[kind].values():
            cluster = r["metadata"].get("labels", {}).get("strimzi.io/cluster")
            if cluster not in kafkas:
                problem(r, f"strimzi.io/cluster {cluster!r} is no Kafka here")
            if kind == "KafkaNodePool" and "broker" in r["spec"]["roles"]:
                brokers[cluster] += r["spec"]["replicas"]

    topics = set()
    for t in by_kind["KafkaTopic"].values():
        topics.add(t["spec"].get("topicName", t["metadata"]["name"]))
        replicas = t["spec"].get("replicas", 1)
        cluster = t["metadata"]["labels"].get("strimzi.io/cluster")
        if replicas > brokers.get(cluster, 0):
            problem(t, f"{replicas} replicas, but {cluster} has {brokers.get(cluster, 0)} brokers")
        min_isr = int(t["spec"].get("config", {}).get("min.insync.replicas", 1))
        if min_isr >= replicas > 1:
            problem(t, f"min.insync.replicas {min_isr} leaves no broker to lose out of {replicas}")

    for u in by_kind["KafkaUser"].values():
        for acl in u["spec"].get("authorization", {}).get("acls", []):
            resource = acl["resource"]
            literal = resource.get("patternType", "literal") == "literal"
            if resource["type"] == "topic" and literal and resource["name"] not in topics:
                problem(u, f"ACL on topic {resource['name']}, which is no KafkaTopic here")

    for cm in by_kind["ConfigMap"].values():
        bootstrap = cm.get("data", {}).get("BW_KAFKA_BOOTSTRAP")
        if not bootstrap:
            continue
        host, _, port = bootstrap.rpartition(":")
        cluster = host.split(".")[0].removesuffix("-kafka-bootstrap")
        if cluster not in kafkas or not host.startswith(f"{cluster}-kafka-bootstrap"):
            problem(cm, f"BW_KAFKA_BOOTSTRAP {bootstrap} is no Kafka bootstrap service here")
            continue
        listeners = {str(listener["port"]): listener for listener in kafkas[cluster]["spec"]["kafka"]["listeners"]}
        listener = listeners.get(port)
        if listener is None:
            problem(cm, f"BW_KAFKA_BOOTSTRAP {bootstrap}: {cluster} has no listener on {port}")
            continue
        protocol = cm["data"].get("BW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
        wants_tls, wants_sasl = protocol in ("SSL", "SASL_SSL"), protocol.startswith("SASL_")
        has_sasl = listener.get("authentication", {}).get("type") == "scram-sha-512"
        if wants_tls != bool(listener["tls"]) or wants_sasl != has_sasl:
            problem(cm, f"BW_KAFKA_SECURITY_PROTOCOL {protocol} does not fit listener {listener['name']}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
