"""The notebook runs headless on a small subset, and what it writes is a model the app serves."""

import os
import shutil

import nbformat
import pytest

from captioner.data import REPO_ROOT

# slow: it runs every cell of the notebook; java: it scores with coco-caption
pytestmark = [pytest.mark.slow, pytest.mark.java]

NOTEBOOK = REPO_ROOT / "Image_Caption_Generation.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory, flickr8k_root):
    if shutil.which("java") is None:
        pytest.skip("the notebook's evaluation needs Java (default-jre-headless)")
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("notebook")
    out = folder / "model"
    env = {"CAPTIONER_DATA": str(flickr8k_root), "NB_ENCODER": "efficientnet_lite0", "NB_LIMIT": "40",
           "NB_TEST_LIMIT": "20", "NB_EPOCHS": "2", "NB_OUT": str(out), "NB_HELD_OUT_DIR": str(folder / "held_out"),
           "CAPTIONER_CACHE": str(folder / "cache"), "MPLBACKEND": "Agg"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    return notebook, out


def test_the_notebook_runs_without_errors_in_order(executed):
    notebook, _ = executed
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source[:80]


def test_what_the_notebook_wrote_is_served_by_the_app(executed, photos):
    from app import create_app

    _, out = executed
    client = create_app({"MODEL_DIR": str(out), "TESTING": True}).test_client()
    with open(photos[0], "rb") as photo:
        response = client.post("/api/caption", data={"image": (photo, "photo.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 200 and response.get_json()["caption"]
    card = client.get("/api/model").get_json()
    assert card["metrics"]["test"]["images"] == 20 and card["data"]["train_images"] == 40
    assert len(card["files"]["weights"]) == 3 and card["decoding"]["chosen_on"] == "dev"


def test_the_committed_notebook_shows_a_full_run():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "commit the notebook with its outputs"
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    text = "".join(o.get("text", "") for cell in code for o in cell.outputs)
    assert "1000 test photos" in text, "the committed outputs come from the full test split"
    assert NOTEBOOK.stat().st_size < 3_000_000, "keep the outputs small"
