"""Run the whole system on one machine, without Docker.

PostgreSQL (from Debian's packages) and a single-node Apache Kafka broker in KRaft mode (its
jars from Maven Central) run as local processes with their data under `.local/`; every service
runs as a uvicorn process; the first `up` loads demo data through the services' APIs (demo.py).
Every step is idempotent: running `up` twice is harmless.

The relays and consumers run inside the API processes (`BW_BACKGROUND=inline`, the default). With
`BW_BACKGROUND=apart` each runs as its own worker process (`python -m betterwork_events.worker
<service> relay|consumers`, probes on WORKER_PORTS), as in deploy/k8s.

Only the standard library is used, so this runs before the Python environment exists.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("BW_LOCAL_DIR", ROOT / ".local"))
PG_DATA = LOCAL / "pg"
PG_SOCKETS = LOCAL / "run"
KAFKA_LIBS = LOCAL / "kafka" / "libs"
KAFKA_DATA = LOCAL / "kafka" / "data"
LOGS = LOCAL / "logs"
PIDS = LOCAL / "pids"
KAFKA_POM = ROOT / "deploy" / "local" / "kafka" / "pom.xml"
DEMO = ROOT / "deploy" / "local" / "demo.py"
DEMO_MARKER = LOCAL / "demo.json"  # written once the demo data is loaded; `reset` deletes it with the rest

# Below Linux's ephemeral range (32768 and up), so no client connection can hold them first.
PG_PORT = int(os.environ.get("BW_PG_PORT", "25432"))
KAFKA_PORT = int(os.environ.get("BW_KAFKA_PORT", "29092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("BW_KAFKA_CONTROLLER_PORT", "29093"))
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Service:
    name: str  # directory under services/ and the name in URLs and logs
    module: str  # Python package
    port: int
    database: str
    roles: tuple[str, ...]  # its background tasks: the relay (it publishes events), consumers (it learns from them)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


BOTH_ROLES = ("relay", "consumers")
SERVICES = [
    Service(
        "factory-registry",
        "factory_registry",
        int(os.environ.get("BW_FACTORY_REGISTRY_PORT", "8101")),
        "bw_factory_registry",
        ("relay",),
    ),
    Service("assessment", "assessment", int(os.environ.get("BW_ASSESSMENT_PORT", "8102")), "bw_assessment", BOTH_ROLES),
    Service("committee", "committee", int(os.environ.get("BW_COMMITTEE_PORT", "8103")), "bw_committee", BOTH_ROLES),
    Service("training", "training", int(os.environ.get("BW_TRAINING_PORT", "8104")), "bw_training", BOTH_ROLES),
    Service("gateway", "gateway", int(os.environ.get("BW_GATEWAY_PORT", "8100")), "bw_gateway", ("consumers",)),
]

BACKGROUND = os.environ.get("BW_BACKGROUND", "inline")
# Where each worker answers its probes: the API's port plus 100 for the relay, 200 for the consumers.
WORKER_PORTS = {"relay": 100, "consumers": 200}


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def wait_for(what: str, ready, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    hint = f"; see {log}" if log else ""
    raise SystemExit(f"[stack] {what} did not become ready within {timeout:.0f}s{hint}")


def is_root() -> bool:
    return os.geteuid() == 0


def as_postgres_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; the Debian package creates a `postgres` user for this.
    return ["runuser", "-u", "postgres", "--", *cmd] if is_root() else cmd


# --- PostgreSQL -------------------------------------------------------------------------------


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if found:
        return found[0]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise FileNotFoundError(name)


def install_postgres() -> None:
    try:
        pg_bin("initdb")
        return
    except FileNotFoundError:
        pass
    if not is_root():
        raise SystemExit("[stack] PostgreSQL is not installed; run: sudo apt-get install -y postgresql")
    say("installing PostgreSQL from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True, env=env)


def start_postgres() -> None:
    install_postgres()
    for d in (LOCAL, PG_SOCKETS, LOGS):
        d.mkdir(parents=True, exist_ok=True)
    if is_root():
        shutil.chown(PG_SOCKETS, "postgres")
        shutil.chown(LOGS, "postgres")
    if not (PG_DATA / "PG_VERSION").exists():
        say(f"initialising a PostgreSQL cluster in {PG_DATA}")
        PG_DATA.mkdir(parents=True, exist_ok=True)
        if is_root():
            shutil.chown(PG_DATA, "postgres")
        subprocess.run(
            as_postgres_user([pg_bin("initdb"), "-D", str(PG_DATA), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if port_open(PG_PORT):
        say(f"PostgreSQL already listening on {HOST}:{PG_PORT}")
    else:
        say(f"starting PostgreSQL on {HOST}:{PG_PORT}")
        options = f"-p {PG_PORT} -k {PG_SOCKETS} -c listen_addresses={HOST} -c max_connections=300"
        subprocess.run(
            as_postgres_user(
                [pg_bin("pg_ctl"), "-D", str(PG_DATA), "-o", options, "-l", str(LOGS / "postgres.log"), "-w", "start"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    wait_for("PostgreSQL", lambda: pg_ready(), 30, LOGS / "postgres.log")
    for service in SERVICES:
        create_database(service.database)


def psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        [pg_bin("psql"), "-h", HOST, "-p", str(PG_PORT), "-U", "postgres", "-d", database, "-tAc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def pg_ready() -> bool:
    try:
        return psql("select 1") == "1"
    except subprocess.CalledProcessError:
        return False


def create_database(name: str) -> None:
    if psql(f"select 1 from pg_database where datname = '{name}'") != "1":
        psql(f'create database "{name}"')
        say(f"created database {name}")


def stop_postgres() -> None:
    if (PG_DATA / "postmaster.pid").exists():
        say("stopping PostgreSQL")
        subprocess.run(as_postgres_user([pg_bin("pg_ctl"), "-D", str(PG_DATA), "-m", "fast", "stop"]), check=False)


# --- Apache Kafka -----------------------------------------------------------------------------


def install_kafka() -> None:
    wanted = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()
    marker = KAFKA_LIBS / ".pom-sha256"
    if marker.exists() and marker.read_text() == wanted:
        return
    if not shutil.which("java") or not shutil.which("mvn"):
        if not is_root():
            raise SystemExit(
                "[stack] Java 17+ and Maven are needed: sudo apt-get install -y openjdk-17-jre-headless maven"
            )
        say("installing Java and Maven from Debian's packages")
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "openjdk-17-jre-headless", "maven"], check=True)
    say("fetching the Apache Kafka broker's jars from Maven Central")
    shutil.rmtree(KAFKA_LIBS, ignore_errors=True)
    KAFKA_LIBS.mkdir(parents=True)
    subprocess.run(
        ["mvn", "-q", "-B", "-f", str(KAFKA_POM), "dependency:copy-dependencies", f"-DoutputDirectory={KAFKA_LIBS}"],
        check=True,
    )
    marker.write_text(wanted)


def kafka_properties() -> Path:
    config = LOCAL / "kafka" / "server.properties"
    config.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={HOST}:{KAFKA_CONTROLLER_PORT}",
                f"listeners=PLAINTEXT://{HOST}:{KAFKA_PORT},CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT}",
                f"advertised.listeners=PLAINTEXT://{HOST}:{KAFKA_PORT}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={KAFKA_DATA}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "",
            ]
        )
    )
    return config


def kafka_java(main: str, *args: str) -> list[str]:
    heap = os.environ.get("BW_KAFKA_HEAP", "-Xmx768m")
    return [
        "java",
        heap,
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={ROOT / 'deploy' / 'local' / 'kafka' / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={LOGS}",
        "-cp",
        f"{KAFKA_LIBS}/*",
        main,
        *args,
    ]


def start_kafka() -> None:
    install_kafka()
    for d in (KAFKA_DATA, LOGS, PIDS):
        d.mkdir(parents=True, exist_ok=True)
    config = kafka_properties()
    if port_open(KAFKA_PORT):
        say(f"Kafka already listening on {HOST}:{KAFKA_PORT}")
        return
    if not (KAFKA_DATA / "meta.properties").exists():
        say("formatting Kafka's KRaft storage")
        cluster_id = (
            subprocess.run(
                kafka_java("kafka.tools.StorageTool", "random-uuid"), check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        subprocess.run(
            kafka_java("kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(config)),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    say(f"starting Apache Kafka (KRaft) on {HOST}:{KAFKA_PORT}")
    log = LOGS / "kafka.log"
    process = subprocess.Popen(
        kafka_java("kafka.Kafka", str(config)),
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    (PIDS / "kafka.pid").write_text(str(process.pid))
    wait_for("Kafka", lambda: port_open(KAFKA_PORT) or process.poll() is not None, 90, log)
    if process.poll() is not None:
        raise SystemExit(f"[stack] Kafka exited with {process.returncode}; see {log}")


def stop_pidfile(name: str) -> None:
    pidfile = PIDS / f"{name}.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        say(f"stopping {name}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            os.killpg(pid, 0)
            time.sleep(0.2)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pidfile.unlink(missing_ok=True)


# --- services ---------------------------------------------------------------------------------


def service_environment(service: Service) -> dict[str, str]:
    return {
        **os.environ,
        "BW_DATABASE_URL": f"postgresql+asyncpg://postgres@{HOST}:{PG_PORT}/{service.database}",
        "BW_KAFKA_BOOTSTRAP": f"{HOST}:{KAFKA_PORT}",
        "BW_ENVIRONMENT": os.environ.get("BW_ENVIRONMENT", "development"),
        "BW_REGISTRY_URL": next(s.url for s in SERVICES if s.name == "factory-registry"),
        **{f"BW_{s.name.upper()}_URL": s.url for s in SERVICES if s.name in ("assessment", "committee", "training")},
    }


def migrate() -> None:
    for service in SERVICES:
        say(f"migrating {service.database}")
        subprocess.run(
            [sys.executable, "-m", f"{service.module}.migrate"], check=True, env=service_environment(service)
        )


def processes() -> list[tuple[str, Service, int, list[str]]]:
    """Every process `up` starts: (name, its service, its port, its command), APIs first."""
    found = []
    for service in SERVICES:
        api = ["uvicorn", "--factory", f"{service.module}.app:create_app", "--host", HOST, "--port", str(service.port)]
        found.append((service.name, service, service.port, api))
    if BACKGROUND == "apart":
        for service in SERVICES:
            for role in service.roles:
                port = service.port + WORKER_PORTS[role]
                worker = ["betterwork_events.worker", service.name, role, "--host", HOST, "--port", str(port)]
                found.append((f"{service.name}-{role}", service, port, worker))
    return found


def start_services() -> None:
    if BACKGROUND not in ("inline", "apart"):
        raise SystemExit(f"[stack] BW_BACKGROUND is inline (the default) or apart, not {BACKGROUND!r}")
    PIDS.mkdir(parents=True, exist_ok=True)
    inline = "true" if BACKGROUND == "inline" else "false"
    for name, service, port, command in processes():
        if port_open(port):
            say(f"{name} already listening on {HOST}:{port}")
            continue
        log = LOGS / f"{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", *command],
            stdin=subprocess.DEVNULL,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            env=service_environment(service) | {"BW_RUN_BACKGROUND_TASKS": inline},
            start_new_session=True,
        )
        (PIDS / f"{name}.pid").write_text(str(process.pid))
        say(f"starting {name} on {HOST}:{port}")
    for name, _, port, _ in processes():
        wait_for(name, lambda p=port: port_open(p), 60, LOGS / f"{name}.log")


def print_urls() -> None:
    print()
    print("The Better Work backend is running:")
    for service in SERVICES:
        if service.name == "gateway":
            print(f"  GraphQL gateway   {service.url}/graphql   (SDL at {service.url}/graphql/schema.graphql)")
        else:
            print(f"  {service.name:<17} {service.url}/docs   (OpenAPI at {service.url}/openapi.json)")
    print(f"  PostgreSQL        postgresql://postgres@{HOST}:{PG_PORT}/")
    print(f"  Apache Kafka      {HOST}:{KAFKA_PORT}")
    print(f"  Logs              {LOGS}/")
    print()
    print("Call the APIs with a development token:  make token AUDIENCE=programme")
    print("Stop everything:                          make stop")


def load_demo() -> None:
    """Load the demo data the first time (the marker says it was), then show how to try it."""
    if os.environ.get("BW_DEMO", "1") == "0":
        return
    if os.environ.get("BW_ENVIRONMENT", "development") != "development":
        say("no demo data: it is loaded with development tokens, which only BW_ENVIRONMENT=development accepts")
        return
    print()
    if not DEMO_MARKER.exists():
        say("loading the demo data (once: `make reset` clears it; BW_DEMO=0 skips it)")
    urls = {s.name: s.url for s in SERVICES}
    command = [sys.executable, str(DEMO), "--marker", str(DEMO_MARKER), "--registry", urls["factory-registry"]]
    for name in ("assessment", "committee", "training", "gateway"):
        command += [f"--{name}", urls[name]]
    if subprocess.run(command).returncode != 0:
        raise SystemExit(
            f"[stack] the demo data did not load (the services are up; see {LOGS}/); `make run` again carries on"
        )


def infra() -> None:
    start_postgres()
    start_kafka()


def up() -> None:
    infra()
    migrate()
    start_services()
    print_urls()
    load_demo()


def down() -> None:
    for service in reversed(SERVICES):
        for role in service.roles:  # whether or not this `up` started them apart
            stop_pidfile(f"{service.name}-{role}")
        stop_pidfile(service.name)
    stop_pidfile("kafka")
    stop_postgres()


def reset() -> None:
    down()
    shutil.rmtree(LOCAL, ignore_errors=True)
    say(f"removed {LOCAL}")


def env() -> None:
    """Print the connection settings as shell assignments (for tests and ad-hoc tools)."""
    print(f"BW_PG_URL=postgresql+asyncpg://postgres@{HOST}:{PG_PORT}/postgres")
    print(f"BW_KAFKA_BOOTSTRAP={HOST}:{KAFKA_PORT}")
    print(f"BW_RUN_ID={uuid.uuid4().hex[:8]}")
    print("BW_ENVIRONMENT=development")


COMMANDS = {
    "infra": (infra, "start PostgreSQL and Kafka only"),
    "migrate": (migrate, "apply every service's database migrations"),
    "up": (up, "start PostgreSQL, Kafka and every service, load the demo data once, print where to go"),
    "down": (down, "stop everything `up` started"),
    "reset": (reset, "stop everything and delete .local/ (all local data)"),
    "env": (env, "print connection settings"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text)
    args = parser.parse_args()
    COMMANDS[args.command][0]()


if __name__ == "__main__":
    main()
