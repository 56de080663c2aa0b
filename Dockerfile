# The serving image: gunicorn with the shipped model, as the Procfile runs it, without TensorFlow.
#
#     docker build -t captioner . && docker run -p 5000:5000 captioner
#
# Two stages: the first installs requirements.txt into a virtual environment, the second copies only that
# environment, the app, model/ and its card onto a fresh base, so no pip cache or build tools reach the image.
# tests/test_container.py builds this file with podman and runs the image; it adds the package index's
# certificate as a build-time volume, which nothing here needs where the index is reachable as usual.

FROM debian:bookworm-slim AS build
# Debian 12's Python is 3.11, the version runtime.txt pins for Heroku.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt \
 && find /opt/venv -name __pycache__ -prune -exec rm -rf {} +

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin captioner
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/captioner
COPY Procfile app.py gunicorn.conf.py ./
COPY captioner/ captioner/
COPY templates/ templates/
COPY static/ static/
COPY model/ model/
# The page's /model shows the model card written for people.
COPY docs/model-card.md docs/
# The code and model stay root's, read-only to the server, which runs as its own user.
USER captioner
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=5000 \
    WEB_CONCURRENCY=1
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['PORT'], timeout=4)"]
# The Procfile's web command itself (one place defines it); gunicorn.conf.py holds the server's settings.
CMD ["sh", "-c", "eval exec \"$(sed -n 's/^web: //p' Procfile)\""]
