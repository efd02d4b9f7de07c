"""No Docker engine or cluster runs here, so the production manifests are checked statically:
the compose file against the Compose spec (after the interpolation compose itself does), the
Kubernetes manifests against the API schemas, plus what a multi-machine deployment needs."""

import json
import re
from pathlib import Path

import pytest
import yaml
from compose_spec import PyCompose
from kubernetes_validate import utils as k8s

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENV = {
    "POSTGRES_PASSWORD": "pw",
    "MVQ_S3_ACCESS_KEY": "ak",
    "MVQ_S3_SECRET_KEY": "sk",
    "MVQ_SECRET_KEY": "k",
    "MVQ_SIGNING_KEY": "s",
}


def interpolate(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in env:
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", replace, text)


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(interpolate((DEPLOY / "compose.yaml").read_text(), ENV))


def test_compose_file_is_valid_compose_spec() -> None:
    # PyYAML resolves the anchors and `<<` merges, as compose does, before the spec check.
    parsed = PyCompose.from_json(json.dumps(compose()))
    assert {"api", "worker", "sweeper", "migrate", "postgres", "redis", "s3"} <= set(
        parsed.service_names()
    )


def test_compose_refuses_to_start_without_secrets() -> None:
    with pytest.raises(KeyError, match="MVQ_SECRET_KEY"):
        interpolate(
            (DEPLOY / "compose.yaml").read_text(),
            {k: v for k, v in ENV.items() if k != "MVQ_SECRET_KEY"},
        )


def test_compose_runs_several_api_and_worker_replicas_in_production_mode() -> None:
    services = compose()["services"]
    for name in ("api", "worker"):
        assert services[name]["deploy"]["replicas"] >= 2
        assert services[name]["environment"]["MVQ_ENV"] == "production"
        assert services[name]["environment"]["MVQ_DATABASE_URL"].startswith("postgresql")
    # Only the proxy publishes a port, on loopback; TLS terminates in front of it.
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert list(published) == ["proxy"]
    assert all(p.startswith("127.0.0.1:") for p in published["proxy"])


def k8s_documents() -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


@pytest.mark.parametrize(
    ("name", "doc"), k8s_documents(), ids=lambda v: v if isinstance(v, str) else v.get("kind", "?")
)
def test_kubernetes_manifest_matches_api_schema(name: str, doc: dict) -> None:  # type: ignore[type-arg]
    k8s.validate(doc, k8s.latest_version(), strict=True)


def test_kubernetes_schema_check_catches_a_mistake() -> None:
    bad = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": "three", "selector": {}, "template": {}},
    }
    with pytest.raises(k8s.ValidationError):
        k8s.validate(bad, k8s.latest_version(), strict=True)


def test_kubernetes_runs_replicas_and_autoscales_workers() -> None:
    by_kind = {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_documents()}
    assert by_kind[("Deployment", "mvq-api")]["spec"]["replicas"] >= 2
    assert by_kind[("Deployment", "mvq-worker")]["spec"]["replicas"] >= 2
    hpa = by_kind[("HorizontalPodAutoscaler", "mvq-worker")]
    assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == "mvq_queue_depth"
    for (kind, _), doc in by_kind.items():
        if kind in {"Deployment", "Job"}:
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                refs = [src.get("secretRef", {}).get("name") for src in container["envFrom"]]
                assert "mvq-secrets" in refs


def test_compose_spec_check_catches_a_mistake() -> None:
    broken = compose()
    broken["services"]["api"]["imagee"] = broken["services"]["api"].pop("image")
    with pytest.raises(ValueError, match="imagee"):
        PyCompose.from_json(json.dumps(broken))
