"""The docker-compose deployment as processes on this machine: no Docker engine runs here.

PostgreSQL and Redis from Debian's packages on loopback, then Airflow's scheduler,
dag-processor, triggerer, api-server and two named Celery workers, each configured with the
environment `docker-compose.yaml` gives its service (read from the file itself, so the two
cannot drift apart). What differs, and why, is only what containers give for free:

- service host names (`postgres`, `redis`, `airflow-apiserver`) become 127.0.0.1 and free ports;
- the mounted paths (`/opt/airflow/dags`, ...) are this checkout's folders, AIRFLOW_HOME a temp dir;
- secrets come from a generated `.env` (as an operator fills in `.env.example`);
- each worker gets its own log-server port and host name (containers have their own network
  namespace and hostname; processes on one host share both).

Every process is started in its own session and stopped by its PID (its process group).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def stop_group(process: subprocess.Popen, grace_s: float) -> int:
    """Stop a process started with start_new_session and its children: SIGTERM, then SIGKILL past `grace_s`."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ for a literal $.
_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")


class MissingVariable(ValueError):
    """A ${VAR:?message} whose variable is unset or empty: docker compose refuses to start."""


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """`value` as docker compose gives it to a container, with `dotenv` standing for .env."""
    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        found = dotenv.get(match.group("name"), "")
        if match.group("op") == ":?" and not found:
            raise MissingVariable(f"{match.group('name')}: {match.group('arg')}")
        return found or (match.group("arg") if match.group("op") == ":-" else "")

    return _INTERPOLATION.sub(substitute, value)


def dotenv_for_tests() -> dict[str, str]:
    """What an operator puts in .env from .env.example: every password made up for this stack."""
    return {"POSTGRES_PASSWORD": secrets.token_urlsafe(16), "REDIS_PASSWORD": secrets.token_urlsafe(16),
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(), "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32)}


def service_environment(spec: dict[str, Any], service: str) -> dict[str, str]:
    """The environment docker compose would give `service` (YAML anchors are already merged)."""
    env = spec["services"][service].get("environment") or {}
    return {key: str(value) for key, value in env.items()}


def common_environment(spec: dict[str, Any]) -> dict[str, str]:
    """x-airflow-common's environment: what every Airflow service shares."""
    return {key: str(value) for key, value in spec["x-airflow-common"]["environment"].items()}


def own_environment(spec: dict[str, Any], service: str) -> dict[str, str]:
    """What a service adds to (or changes in) the common environment, e.g. the worker's DUMB_INIT_SETSID."""
    common = common_environment(spec)
    return {k: v for k, v in service_environment(spec, service).items() if common.get(k) != v}


def local_environment(compose_env: dict[str, str], *, pg_port: int, redis_port: int, api_port: int,
                      home: Path, dotenv: dict[str, str]) -> dict[str, str]:
    """The compose environment, interpolated from `dotenv` (.env), with container names and mounts
    mapped onto this machine."""
    mapping = {
        "@postgres/": f"@127.0.0.1:{pg_port}/",
        "@redis:6379": f"@127.0.0.1:{redis_port}",
        "http://airflow-apiserver:8080": f"http://127.0.0.1:{api_port}",
    }
    env = {}
    for key, value in compose_env.items():
        value = interpolate(value, dotenv)
        for container, local in mapping.items():
            value = value.replace(container, local)
        env[key] = value
    unmapped = [f"{k}={v}" for k, v in env.items() if any(h in v for h in ("@postgres", "@redis", "airflow-apiserver"))]
    if unmapped:
        raise ValueError(f"compose settings naming a container this stack does not map: {unmapped}")
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        # .env, as an operator fills it in from .env.example (env_file: every service gets it)
        **dotenv,
        "INSTANCE_BENCHMARKS_RESULTS_URI": (home / "data").as_uri(),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")]),
    }


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass
class Stack:
    root: Path
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    pg_dir: Path | None = None
    dotenv: dict[str, str] = field(default_factory=dotenv_for_tests)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def _start(self, name: str, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None,
               cwd: Path | None = None) -> subprocess.Popen:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("w") as out:
            process = subprocess.Popen(argv, env=env or os.environ.copy(), stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True, user=user, cwd=cwd or self.root)
        self.processes[name] = process
        return process

    # The backing services, from Debian's packages.
    def start_postgres(self) -> None:
        if not PG_BIN:
            raise RuntimeError("PostgreSQL is not installed: `make deps-test` (tests/debian-packages.txt)")
        bin_dir = PG_BIN[-1]
        # PostgreSQL refuses to run as root: its data lives in a directory the postgres user owns
        # (pytest's temporary directories are root's alone), removed by stop().
        self.pg_dir = Path(tempfile.mkdtemp(prefix="instance-benchmarks-pg-"))
        shutil.chown(self.pg_dir, "postgres")
        data = self.pg_dir / "data"
        subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"], check=True,
                       capture_output=True, user="postgres", cwd=self.pg_dir)
        self._start("postgres", [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.pg_port),
                                 "-c", "listen_addresses=127.0.0.1", "-k", str(self.pg_dir)], user="postgres",
                    cwd=self.pg_dir)
        self._wait(lambda: subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.pg_port)],
                                          capture_output=True).returncode == 0, "postgres", 60)
        # What the postgres image does with POSTGRES_USER/PASSWORD/DB.
        db = {k: interpolate(v, self.dotenv) for k, v in service_environment(compose(), "postgres").items()}
        psql = [str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-v",
                "ON_ERROR_STOP=1", "-c"]
        subprocess.run([*psql, f"CREATE USER {db['POSTGRES_USER']} PASSWORD '{db['POSTGRES_PASSWORD']}'"],
                       check=True, capture_output=True)
        subprocess.run([*psql, f"CREATE DATABASE {db['POSTGRES_DB']} OWNER {db['POSTGRES_USER']}"], check=True,
                       capture_output=True)

    def start_redis(self) -> None:
        server = shutil.which("redis-server")
        if not server:
            raise RuntimeError("Redis is not installed: `make deps-test` (tests/debian-packages.txt)")
        # As the redis service runs it: with the password of .env (its command, interpolated).
        command = [interpolate(part, self.dotenv) for part in compose()["services"]["redis"]["command"]]
        self._start("redis", [server, *command[1:], "--port", str(self.redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"])
        self._wait(lambda: _redis_ping(self.redis_port, self.dotenv["REDIS_PASSWORD"]), "redis", 30)

    # Airflow, configured from docker-compose.yaml.
    def configure(self, extra: dict[str, str] | None = None) -> None:
        """`extra`: what an operator's .env adds (e.g. the AWS connection)."""
        home = self.root / "airflow"
        home.mkdir()
        spec = compose()
        self.env = {**os.environ, **local_environment(
            common_environment(spec), pg_port=self.pg_port, redis_port=self.redis_port,
            api_port=self.api_port, home=home, dotenv=self.dotenv), **(extra or {})}

    def init(self) -> float:
        """What the airflow-init service runs (bash -c its command: migrate, pools); returns its seconds."""
        service = compose()["services"]["airflow-init"]
        env = {**self.env, "PATH": os.pathsep.join([str(Path(sys.executable).parent), self.env["PATH"]])}
        start = time.monotonic()
        command = [interpolate(part, self.dotenv) for part in service["command"]]  # compose's `$$` is bash's `$`
        done = subprocess.run([service["entrypoint"], *command], env=env, capture_output=True, text=True,
                              timeout=600, cwd=self.root)
        if done.returncode:
            raise RuntimeError(f"airflow-init failed:\n{(done.stdout + done.stderr)[-4000:]}")
        return time.monotonic() - start

    def start_airflow(self, workers: tuple[str, ...] = ("worker-a", "worker-b")) -> None:
        spec = compose()
        airflow = [sys.executable, "-m", "airflow"]
        for service, extra in (("airflow-apiserver", ["--host", "127.0.0.1", "--port", str(self.api_port)]),
                               ("airflow-scheduler", []), ("airflow-dag-processor", []), ("airflow-triggerer", [])):
            command = spec["services"][service]["command"].split()
            env = {**self.env, **{k: interpolate(v, self.dotenv) for k, v in own_environment(spec, service).items()}}
            self._start(service, [*airflow, *command, *extra], env={**env, "STACK_HOSTNAME": service})
        command = spec["services"]["airflow-worker"]["command"].split()
        for name in workers:
            own = {k: interpolate(v, self.dotenv) for k, v in own_environment(spec, "airflow-worker").items()}
            env = {**self.env, **own, "STACK_HOSTNAME": name,
                   "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                   "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.deployment.stack.hostname"}
            self._start(name, [*airflow, *command, "--celery-hostname", f"{name}@%h"], env=env)
        self._wait(lambda: _get(f"{self.api}/api/v2/monitor/health") is not None, "api-server", 180)

    def credentials(self) -> tuple[str, str]:
        """The admin's user name and the password the simple auth manager generated for it."""
        users = self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
        username = users.split(",")[0].split(":")[0]
        passwords = Path(self.env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        self._wait(passwords.exists, "the admin password file", 60)
        return username, json.loads(passwords.read_text())[username]

    def token(self) -> str:
        username, password = self.credentials()
        body = json.dumps({"username": username, "password": password})
        request = urllib.request.Request(f"{self.api}/auth/token", data=body.encode(),  # noqa: S310 - loopback
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return json.loads(response.read())["access_token"]

    def stop(self) -> dict[str, int | None]:
        """Stop every process this stack started, by PID: Airflow's together (one after another took 16 s), then
        Redis, the database last."""
        codes = {}
        stores = ("redis", "postgres")
        for group in ([n for n in self.processes if n not in stores], *[[n] for n in stores if n in self.processes]):
            running = [self.processes[n] for n in group if self.processes[n].poll() is None]
            for process in running:
                os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            for process in running:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=30)
            codes.update({n: self.processes[n].returncode for n in group})
        if self.pg_dir is not None:
            shutil.rmtree(self.pg_dir, ignore_errors=True)
        return codes

    def _wait(self, ready, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tails = {n: self.log(n).read_text()[-2000:] for n in dead or self.processes}
                raise RuntimeError(f"{what} not ready after {timeout} s (exited: {dead}):\n{tails}")
            time.sleep(1)


def hostname() -> str:
    """[core] hostname_callable for the workers: the name a container's hostname would give."""
    return os.environ.get("STACK_HOSTNAME") or socket.getfqdn()


def _redis_ping(port: int, password: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            answer = b""
            while answer.count(b"\r\n") < 2:
                chunk = s.recv(64)
                if not chunk:
                    break
                answer += chunk
            return answer == b"+OK\r\n+PONG\r\n"
    except OSError:
        return False


def api_call(url: str, token: str, *, method: str = "GET", body: Any = None) -> Any:
    """One REST API call with the admin's token; raises on an HTTP error, with its body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,  # noqa: S310 - loopback http only
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {url}: {exc.code} {exc.read()[:2000]!r}") from exc


def _get(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url,  # noqa: S310 - loopback http only
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
