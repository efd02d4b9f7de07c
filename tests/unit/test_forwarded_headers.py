"""Forwarded headers are believed only from a named proxy: the dev/test command and every
production manifest say which one (or none), never uvicorn's loopback default."""

import re
from pathlib import Path

import yaml

from deploy import servers

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_without_a_configured_proxy_no_forwarded_header_is_believed() -> None:
    argv = servers.uvicorn_argv(host="127.0.0.1", port=1, forwarded_allow_ips="")
    assert "--no-proxy-headers" in argv and "--forwarded-allow-ips" not in argv


def test_a_configured_proxy_is_the_only_one_believed() -> None:
    argv = servers.uvicorn_argv(host="127.0.0.1", port=1, forwarded_allow_ips="10.0.0.5")
    at = argv.index("--forwarded-allow-ips")
    assert argv[at + 1] == "10.0.0.5" and "--proxy-headers" in argv


def _names_its_proxies(command: list[str]) -> bool:
    if "--no-proxy-headers" in command:
        return "--proxy-headers" not in command
    at = command.index("--forwarded-allow-ips")
    return command[at + 1] not in ("", "*", "127.0.0.1")


def test_every_production_command_names_the_proxies_it_believes() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    api = compose["services"]["api"]["command"]
    assert _names_its_proxies(api)
    trusted = api[api.index("--forwarded-allow-ips") + 1]
    proxy = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    assert trusted == proxy
    k8s = next(yaml.safe_load_all((DEPLOY / "k8s" / "api.yaml").read_text()))
    container = k8s["spec"]["template"]["spec"]["containers"][0]
    assert _names_its_proxies(container["command"])
    config = yaml.safe_load((DEPLOY / "k8s" / "config.yaml").read_text())
    assert config["data"]["MVQ_FORWARDED_ALLOW_IPS"]
    docker_cmd = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert docker_cmd and _names_its_proxies(yaml.safe_load(docker_cmd[1]))
    web = (DEPLOY / "Procfile").read_text().splitlines()[0]
    assert '--forwarded-allow-ips "${MVQ_FORWARDED_ALLOW_IPS:?' in web
