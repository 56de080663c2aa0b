# The two commands a newcomer needs: `make serve` (the app with the shipped model) and `make test`.
# Both create .venv at the repository root and install into it only when a requirements file changed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: serve test test-fast test-serving train-quick requirements clean

# The Procfile's own web command (gunicorn, as Heroku and the Docker image run it), on loopback port 5000.
serve: $(VENV)/.serve-installed
	HOST=$${HOST:-127.0.0.1} PORT=$${PORT:-5000} PATH="$(abspath $(BIN)):$$PATH" \
		sh -c 'eval exec "$$(sed -n "s/^web: //p" Procfile)"'

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

# The quick part: no browser, no Java, nothing that takes minutes (pytest markers, tests/conftest.py).
test-fast: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -m "not slow and not browser and not java" -q

# The app's and serving's tests on what a deploy installs: requirements.txt and pytest (pinned as in
# requirements-dev.txt), no TensorFlow. They serve the committed fixture model (tests/fixtures/colour_model/);
# tests that train or need a dev tool skip, naming what they need.
SERVING_VENV ?= .venv-serving
SERVING_TESTS := tests/test_app.py tests/test_batch.py tests/test_api_docs.py tests/test_explain.py \
	tests/test_alttext.py tests/test_serving.py tests/test_numpy_decoder.py tests/test_decode.py tests/test_guidance.py \
	tests/test_recognition.py tests/test_images.py tests/test_text.py tests/test_data.py tests/test_security.py \
	tests/test_honesty.py tests/test_layout.py
test-serving: $(SERVING_VENV)/.installed
	$(SERVING_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow and not browser and not java" $(SERVING_TESTS)

$(SERVING_VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(SERVING_VENV)
	$(SERVING_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt pytest \
		--constraint requirements-dev.txt
	touch $@

# A smoke run (captioner/train/recipes.py's QUICK): 200 training images, 5 epochs, the weight-free thumbnail encoder.
train-quick: $(VENV)/.dev-installed
	$(BIN)/python -m captioner train --recipe quick --out runs/quick

# Every dependency pinned, direct and indirect: requirements*.txt compiled from the short requirements*.in by
# pip-tools (in a venv of its own). Pins already there are kept; `make requirements UPGRADE=--upgrade` moves them.
TOOLS := .venv-tools
requirements: $(TOOLS)/bin/pip-compile
	for name in requirements requirements-train requirements-ray requirements-dev; do \
		$(TOOLS)/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links $(UPGRADE) \
			--output-file $$name.txt $$name.in || exit 1; done

$(TOOLS)/bin/pip-compile:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check pip-tools==7.6.2

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.serve-installed: requirements.txt | $(BIN)/python
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-train.txt requirements-ray.txt requirements-dev.txt | $(BIN)/python
	$(PIP) -r requirements-dev.txt
	$(PIP) --no-deps --editable .  # the package itself, so benchmarks/, experiments/ and tools/ import it as is
	touch $@ $(VENV)/.serve-installed

clean:
	rm -rf $(VENV) $(TOOLS) $(SERVING_VENV) .cache .pytest_cache runs
