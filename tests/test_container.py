"""The Dockerfile builds an image that really serves: built with podman here, started, asked for a caption.

No image registry is reachable from these machines, so the base image (``debian:bookworm-slim``) is made
locally: debootstrap writes a minimal Debian 12 from the mirror apt already uses, and ``podman import``
names it as the Dockerfile's FROM expects. It is kept in podman's storage, so later runs on the same machine
reuse it (an image of the same release; a stale one is what ``docker pull`` would also refresh).

What only this machine needs is given on the command line, never in the Dockerfile: the host's network
for the package mirrors, and the package index's certificate as a read-only build volume.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from captioner.data import REPO_ROOT
from harness.servers import free_port

# slow: it builds and runs the Docker image (make test-fast leaves it out)
pytestmark = pytest.mark.slow

IMAGE = "localhost/captioner-test"
BASE = "localhost/debian:bookworm-slim"
HOST_CA = Path(os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")


def podman_settings() -> tuple[list[str], dict]:
    """podman's command and environment for this machine (rootful, hybrid cgroups, no ulimit changes)."""
    conf = Path(tempfile.gettempdir()) / "captioner-containers.conf"
    # crun cannot set RLIMIT_NOFILE here, and refuses the hybrid cgroup layout; runc with cgroupfs can.
    conf.write_text("[containers]\ndefault_ulimits = []\n")
    return (["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"],
            {**os.environ, "CONTAINERS_CONF": str(conf)})


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    command, env = podman_settings()
    return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=check)


def apt_mirror() -> str:
    """The Debian mirror apt is configured with on this machine."""
    for path in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = line.split()
            if words[:1] == ["URIs:"] or words[:1] == ["deb"]:
                url = words[1] if words[0] == "URIs:" else next((w for w in words[1:] if "://" in w), "")
                if url.rstrip("/").endswith("/debian"):
                    return url
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def base_image():
    if shutil.which("podman") is None or shutil.which("debootstrap") is None:
        pytest.skip("podman or debootstrap is not installed (.ci/run installs them: apt-get install podman "
                    "debootstrap runc)")
    if podman("info", check=False).returncode != 0:
        pytest.skip("podman cannot run on this machine: " + podman("info", check=False).stderr.strip()[-300:])
    if podman("image", "exists", BASE, check=False).returncode != 0:
        with tempfile.TemporaryDirectory() as rootfs:
            subprocess.run(["debootstrap", "--variant=minbase", "bookworm", rootfs, apt_mirror()], check=True,
                           capture_output=True, timeout=600)
            # What Debian's slim images leave out: package lists and caches, documentation, translations
            # (206 MB -> about 80 MB, close to the published debian:bookworm-slim).
            for leftover in ("var/lib/apt/lists", "var/cache/apt", "usr/share/doc", "usr/share/man",
                             "usr/share/locale", "usr/share/info"):
                for path in (Path(rootfs) / leftover).glob("*"):
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
            command, env = podman_settings()
            subprocess.run([*command, "import", "-", BASE], stdin=tar.stdout, env=env, check=True,
                           capture_output=True, timeout=300)
            tar.wait()
    return BASE


@pytest.fixture(scope="module")
def image(base_image):
    with tempfile.TemporaryDirectory() as tmp:
        pip_conf = Path(tmp) / "pip.conf"
        pip_conf.write_text("[global]\ncert = /run/host-ca.crt\n")
        started = time.monotonic()
        # The docker format keeps the HEALTHCHECK (OCI images have none).
        build = podman("build", "--pull=never", "--format", "docker", "--network", "host",
                       "--volume", f"{HOST_CA}:/run/host-ca.crt:ro", "--volume", f"{pip_conf}:/etc/pip.conf:ro",
                       "--tag", IMAGE, str(REPO_ROOT), timeout=1200, check=False)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    print(f"built {IMAGE} in {time.monotonic() - started:.0f} s")
    yield IMAGE
    podman("rmi", "--force", IMAGE, check=False)


@pytest.fixture(scope="module")
def container(image):
    port = free_port()
    name = f"captioner-test-{port}"
    # The host's network: no container networking is set up here. gunicorn binds $PORT inside.
    podman("run", "--detach", "--name", name, "--network", "host", "--env", f"PORT={port}", image)
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        while time.monotonic() - started < 90:
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("the container did not answer /health:\n" + podman("logs", name, check=False).stderr[-2000:])
        print(f"container answered /health {time.monotonic() - started:.1f} s after it was started")
        yield name, url
    finally:
        podman("rm", "--force", "--time", "5", name, check=False, timeout=60)


def test_the_image_captions_a_photo(container, photos):
    _, url = container
    with open(photos[0], "rb") as photo:
        response = requests.post(f"{url}/api/caption", files={"image": (photos[0].name, photo)}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["caption"].split()) >= 3 and body["model"]["decoders"] == 3
    # The page's model card is the repository's, copied into the image beside the model.
    card = requests.get(f"{url}/model", timeout=10)
    assert card.status_code == 200 and "<h2>Limitations" in card.text


def test_the_server_runs_as_a_user_without_tensorflow(container):
    name, _ = container
    assert podman("exec", name, "id", "-u").stdout.strip() != "0"
    missing = podman("exec", name, "python3", "-c", "import importlib.util as u; "
                     "print([m for m in ('tensorflow', 'keras', 'torch') if u.find_spec(m)])")
    assert missing.stdout.strip() == "[]"
    # The code and the model are not the server's to change.
    assert podman("exec", name, "touch", "model/model_card.json", check=False).returncode != 0


def test_the_image_reports_its_health_and_its_size(container, image):
    name, _ = container
    assert podman("healthcheck", "run", name, check=False).returncode == 0
    size_mb = int(podman("image", "inspect", image, "--format", "{{.Size}}").stdout.strip()) / 1e6
    print(f"image {image}: {size_mb:.0f} MB")
    assert size_mb < 600
