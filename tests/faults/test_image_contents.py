"""The Dockerfile's image, built without Docker: its build stage's files installed as a wheel (not editable) into
a fresh virtualenv, its runtime stage's migrations copied beside it, then each of the image's commands run from a
folder outside the repository, as the image runs them: `migrate`, `serve` (health, readiness, a clinic page with
its template and vendored static file, the OpenAPI document), `scheduler` and `dispatcher` (each running, then
stopped by SIGTERM as `docker stop` does).

No container registry is reachable on this machine (only package registries), so the image itself cannot be built
here; this test checks what a build could get wrong in our own files: a file the wheel leaves out (templates,
static files, migrations), an import that only works from the source tree, a command missing from the entry
point. It reads the COPY lines from the Dockerfile, so a file added there is checked here too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, create_database, drop_database
from tests.faults.live import free_port

REPO = Path(__file__).resolve().parents[2]
SECRET = "an-image-test-signing-key-of-more-than-32-bytes"

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="the image runs on PostgreSQL: checked in the PostgreSQL leg only"
)


def _stage_copies(stage: str) -> list[str]:
    """The sources of the COPY lines of one stage of the Dockerfile (not those copied from another stage)."""
    copies: list[str] = []
    current = None
    for line in (REPO / "Dockerfile").read_text().splitlines():
        found = re.match(r"FROM \S+ AS (\w+)", line)
        if found:
            current = found.group(1)
        elif current == stage and line.startswith("COPY ") and "--from=" not in line:
            words = [w for w in line.split()[1:] if not w.startswith("--")]
            copies.extend(words[:-1])
    return copies


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
    return done  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the image: /opt/venv with the wheel installed, /app with the migrations."""
    root = tmp_path_factory.mktemp("image")
    source = root / "build"
    source.mkdir()
    build_copies = _stage_copies("build")
    assert {"pyproject.toml", "api", "core", "notifications"} <= set(build_copies), build_copies
    for name in build_copies:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    wheels = root / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)])
    venv = root / "opt-venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    # The dependencies come from the test's own environment (one path line, whose .pth files are not read, so
    # the editable checkout there is not seen); the package itself only from the wheel.
    site = Path(sysconfig.get_paths()["purelib"])
    venv_site = next((venv / "lib").glob("python3*/site-packages"))
    (venv_site / "zz_dependencies.pth").write_text(f"{site}\n")
    wheel = next(wheels.glob("glucodiary-*.whl"))
    _run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", str(wheel)])
    app = root / "app"
    app.mkdir()
    for name in _stage_copies("runtime"):
        shutil.copytree(REPO / name, app / name, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def database(image: Path) -> object:
    url = create_database("image")
    yield url
    drop_database(url)


def _env(image: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLUCODIARY_", "PYTHON", "VIRTUAL_ENV"))}
    data = image / "data"
    data.mkdir(exist_ok=True)
    env.update(
        PATH=f"{image / 'opt-venv' / 'bin'}:{env.get('PATH', '')}",
        GLUCODIARY_ENV="production",
        GLUCODIARY_DATA_DIR=str(data),
        GLUCODIARY_MIGRATIONS_DIR=str(image / "app" / "alembic"),
        GLUCODIARY_DB__URL=database_url,
        GLUCODIARY_SECURITY__JWT_SECRET=SECRET,
        GLUCODIARY_LOG_LEVEL="WARNING",
    )
    return env


def _glucodiary(image: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(image / "opt-venv" / "bin" / "glucodiary"), *args],
        env=env,
        cwd=image / "app",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"did not stop within 20 s of SIGTERM:\n{output[-2000:]}") from None
    return process.returncode, output


def test_the_installed_package_runs_every_command_of_the_image(image: Path, database: str) -> None:
    env = _env(image, database)
    venv_python = str(image / "opt-venv" / "bin" / "python")
    where = _run(
        [venv_python, "-c", "import api, core, notifications; print(api.__file__)"], env=env, cwd="/"
    )
    assert str(image / "opt-venv") in where.stdout, f"the package was imported from elsewhere: {where.stdout}"

    migrated = _run([str(image / "opt-venv" / "bin" / "glucodiary"), "migrate"], env=env, cwd=image / "app")
    assert "head" in (migrated.stdout + migrated.stderr).lower() or migrated.stdout.strip()

    port = free_port()
    server = _glucodiary(image, env, "serve", "--host", "127.0.0.1", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/ready", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, f"not ready: {ready and ready.text}"
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200
        assert httpx.get(f"{base}/openapi.json", timeout=5).json()["paths"]
        signin = httpx.get(f"{base}/clinic/sign-in", timeout=5)
        assert signin.status_code == 200 and "<form" in signin.text, signin.text[:500]
        assets = re.findall(r'(?:src|href)="(/clinic/static/[^"]+)"', signin.text)
        assert assets, "the sign-in page names no static file"
        for asset in assets:
            assert httpx.get(f"{base}{asset}", timeout=5).status_code == 200, asset
    finally:
        code, output = _stop(server)
    # uvicorn shuts down gracefully on SIGTERM, then ends by the same signal (its status says it was stopped)
    assert code in (0, -signal.SIGTERM), output[-2000:]

    for command in ("scheduler", "dispatcher"):
        process = _glucodiary(image, env, command)
        time.sleep(3)
        assert process.poll() is None, f"`glucodiary {command}` died:\n{process.communicate()[0][-2000:]}"
        code, output = _stop(process)
        assert code in (0, -signal.SIGTERM), (
            f"`glucodiary {command}` exited {code} on SIGTERM:\n{output[-2000:]}"
        )
