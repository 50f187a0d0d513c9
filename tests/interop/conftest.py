"""Fixtures of the interop suite (docs/interop.md). scripts/interop.sh builds what they need;
where a client is missing they skip and say why, except under CI=true, where they fail."""

import os
import shutil
from pathlib import Path

import pytest

from harness import JAVA, REPO, Kinesin

ON_CI = os.environ.get("CI") == "true"


def unavailable(reason):
    """Skips the test, or fails it on CI, where every client must run."""
    if ON_CI:
        pytest.fail(f"{reason} (CI=true: the interop clients must run)", pytrace=False)
    pytest.skip(reason)


def kinesin_binary():
    configured = os.environ.get("KINESIN_BIN")
    return Path(configured) if configured else REPO / "target" / "debug" / "kinesin"


def require_java_project(project):
    if shutil.which("java") is None:
        unavailable("no java on PATH")
    if not (JAVA / project / "target" / "lib").is_dir():
        unavailable(f"tests/interop/java/{project} is not built (run scripts/interop.sh)")


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


def _serve(workdir, tls):
    binary = kinesin_binary()
    if not binary.exists():
        unavailable(f"{binary} is not built (cargo build)")
    server = Kinesin(binary, workdir, tls=tls)
    return server


@pytest.fixture
def kinesin(workdir):
    server = _serve(workdir, tls=False)
    yield server
    server.stop()


@pytest.fixture
def kinesin_tls(workdir):
    server = _serve(workdir, tls=True)
    yield server
    server.stop()


@pytest.fixture
def workers():
    """Collects the test's child processes and stops whichever are still running at the end."""
    started = []
    yield started
    for worker in started:
        worker.stop(timeout=10)
