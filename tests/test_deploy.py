"""The deploy files agree with each other and with this project's Python."""

import json
import runpy
import sys

import pytest

from captioner.data import REPO_ROOT


def test_runtime_txt_and_python_version_pin_the_same_python():
    runtime = (REPO_ROOT / "runtime.txt").read_text().strip()
    pinned = (REPO_ROOT / ".python-version").read_text().strip()
    assert runtime == f"python-{pinned}"
    # TensorFlow 2.21 has wheels for 3.11-3.13 only; Heroku's default (3.14) has none.
    assert pinned in {"3.11", "3.12", "3.13"}
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == pinned


def test_procfile_runs_gunicorn_on_port_with_the_settings_of_gunicorn_conf():
    web = (REPO_ROOT / "Procfile").read_text().strip()
    # Heroku sets PORT and no HOST: every interface there; `make serve` sets HOST=127.0.0.1.
    assert web.startswith("web: gunicorn ") and "${HOST:-0.0.0.0}:$PORT" in web and "'app:production_app()'" in web
    assert "--preload" not in web, "each worker loads its own model before it accepts requests"
    # Settings on the command line would override gunicorn.conf.py's, where their reasons are written.
    assert "--timeout" not in web and "--worker-class" not in web


def test_gunicorn_s_timeouts_fit_heroku_s_router_and_shutdown():
    settings = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))
    heroku_router_s = heroku_sigkill_after_sigterm_s = 30
    # A threaded worker, so that stalled clients hold threads (tests/test_load.py); more threads than the
    # stalled clients that test opens, wherever they land.
    assert settings["worker_class"] == "gthread" and settings["threads"] > 4
    # A worker's model loads in ~2 s here (the timeout also bounds its start), and a hung one is restarted
    # before the router gives up on its requests.
    assert 10 <= settings["timeout"] < heroku_router_s
    assert settings["graceful_timeout"] < heroku_sigkill_after_sigterm_s
    assert settings["RECEIVE_TIMEOUT_S"] < heroku_router_s


def test_app_json_asks_for_a_dyno_the_server_fits():
    app = json.loads((REPO_ROOT / "app.json").read_text())
    assert app["buildpacks"] == [{"url": "heroku/python"}]
    # tests/test_load.py measures that the master and this many workers fit in a Basic dyno's 512 MB, at every
    # moment; the Dockerfile runs as many.
    assert app["formation"]["web"]["size"] == "basic"
    assert int(app["env"]["WEB_CONCURRENCY"]["value"]) == 1
    assert "WEB_CONCURRENCY=1" in (REPO_ROOT / "Dockerfile").read_text()


def pins(name: str) -> dict[str, str]:
    """``package: version`` for every ``package==version`` line of a requirements file (extras dropped: the
    compiled files list ``ray[data]``'s extra packages themselves)."""
    lines = [line.split("#")[0].strip().lower().replace("_", "-") for line in (REPO_ROOT / name).read_text().splitlines()]
    return {package.split("[")[0]: version for package, version in (line.split("==") for line in lines if "==" in line)}


def test_serving_requirements_leave_out_training_libraries():
    assert set(pins("requirements.in")) == {"flask", "gunicorn", "numpy", "pillow", "pillow-heif", "h5py",
                                            "onnxruntime", "tqdm", "flask-cors", "flask-swagger-ui"}
    assert not {"tensorflow", "tensorflow-cpu", "keras", "torch", "ray"} & set(pins("requirements.txt"))


@pytest.mark.parametrize("name", ["requirements", "requirements-train", "requirements-ray", "requirements-dev"])
def test_each_compiled_file_pins_its_in_file_and_agrees_with_the_dev_set(name):
    """requirements*.txt come from requirements*.in (make requirements): direct pins as written there, every
    indirect one pinned too, and one version of each package across the files, so tests run what deploys."""
    direct, compiled, everything = pins(f"{name}.in"), pins(f"{name}.txt"), pins("requirements-dev.txt")
    public = {p: v.split("+")[0] for p, v in compiled.items()}  # torch==2.13.0 resolves to the 2.13.0+cpu build
    assert {p: public.get(p) for p in direct} == direct
    assert {p: everything.get(p) for p in compiled} == compiled
    assert "werkzeug" in pins("requirements.txt")  # an indirect dependency the app relies on is pinned

@pytest.mark.slow
def test_the_app_and_serving_tests_pass_on_requirements_txt_and_pytest_alone(tmp_path):
    """What a deploy installs runs the app's and serving's tests over the committed fixture model (make test-serving)."""
    import re
    import subprocess

    venv = tmp_path / "serving"
    result = subprocess.run(["make", "--no-print-directory", "test-serving", f"SERVING_VENV={venv}"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert int(re.search(r"(\d+) passed", summary).group(1)) >= 150 and "failed" not in summary, summary
    no_tensorflow = subprocess.run([str(venv / "bin" / "python"), "-c", "import tensorflow"], capture_output=True)
    assert no_tensorflow.returncode != 0, "requirements.txt alone must not bring TensorFlow"
