"""Shared test configuration: where the real data lives, and hypothesis profiles.

Real data is in ``../shared/data`` beside the repository (see its MANIFEST.md); set
``SEAWARDEN_SHARED_DATA`` to point elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEAWARDEN_SHARED_DATA", REPO.parent / "shared" / "data"))


def load_bench(name: str) -> ModuleType:
    """Import ``bench/<name>.py`` (benches are scripts, not a package) for the tests of
    its bookkeeping; its siblings (corpus.py, alert_latency.py) import as it runs."""
    bench = REPO / "bench"
    sys.path.insert(0, str(bench))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", bench / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(bench))


settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- pytest-xdist (`make test` runs `pytest -n 2 --dist loadfile`) -----------------------------
#
# Each worker gets a PostgreSQL database of its own, so that what is database-wide (advisory
# locks: the API's write lock, the migration lock, the outbox lanes' locks) is not shared with
# the other worker's tests. It is made from the test server's DSN (`make postgres`: trust auth,
# superuser `postgres`), with PostGIS, owned by the DSN's role, handed to every PostgreSQL
# fixture through SEAWARDEN_TEST_PG_DSN (they all read it first) and dropped at the end.
# Tests are sent to the workers a module at a time (the module fixtures are built once).

_WORKER_DB: tuple[str, str] | None = None  # (admin URL, database name) to drop at the end


def _pg_base_dsn() -> str:
    dsn_file = REPO / ".venv" / "seawarden-test-pg.dsn"
    return os.environ.get("SEAWARDEN_TEST_PG_DSN") or (
        dsn_file.read_text().strip() if dsn_file.is_file() else ""
    )


def _worker_database(worker: str) -> None:
    global _WORKER_DB
    base = _pg_base_dsn()
    if not base or "://" not in base:
        return  # no PostgreSQL (those tests skip, or fail in CI) or not a URL: left as it is
    try:
        import psycopg
    except ImportError:
        return
    url = urlsplit(base)
    # the run's id too: two runs at once on one server (two work trees) must not meet
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8]
    name = f"{url.path.lstrip('/') or 'seawarden_test'}_{worker}_{run}".lower()
    owner = url.username or "seawarden"
    host = url.netloc.rpartition("@")[2]
    admin = urlunsplit(url._replace(netloc=f"postgres@{host}", path="/postgres", query=""))
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
        mine = urlunsplit(url._replace(netloc=f"postgres@{host}", path=f"/{name}", query=""))
        with psycopg.connect(mine, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION postgis")
            conn.execute(f"GRANT CREATE ON SCHEMA public TO {owner}")
    except psycopg.Error as exc:
        why = (
            f"pytest-xdist worker {worker}: no database of its own on {url.hostname}:{url.port}"
            f" (needs the superuser `postgres`, as `make postgres` sets up): {exc}"
        )
        if os.environ.get("CI"):
            raise pytest.UsageError(why) from exc
        print(f"{why}; the workers share {url.path}", file=sys.stderr)
        return
    _WORKER_DB = (admin, name)
    os.environ["SEAWARDEN_TEST_PG_DSN"] = urlunsplit(url._replace(path=f"/{name}"))


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        _worker_database(worker)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _WORKER_DB is not None:
        import psycopg

        admin, name = _WORKER_DB
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# Modules that share a session fixture too costly to build on both workers go to one worker.
# (Scheduling, not markers: pytest-xdist 3.8's `xdist_group` has no effect under pytest 9,
# whose node ids it can no longer rewrite.)
SHARED_SCOPES = {
    "tests/api/test_api_pg.py": "two_stores",  # tests/api/twostores.py: the Baltic replay
    "tests/api/test_report_api_pg.py": "two_stores",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the modules of ``SHARED_SCOPES`` sent to one worker together."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedScopes(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SHARED_SCOPES.get(path, path)

    return SharedScopes(config, log)
