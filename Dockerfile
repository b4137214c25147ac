# The API image: migrates the database, then serves on :8000.
#
#   docker build -t marketplace .
#   docker run -p 8000:8000 \
#     -e MARKETPLACE_DATABASE_URL=postgresql+asyncpg://user:pass@host:5432/db \
#     -e MARKETPLACE_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" \
#     -e MARKETPLACE_PUBLIC_URL=https://api.example.com \
#     marketplace
#
# (Production refuses to start without the three: see the README's Docker section.)
#
# The app runs from its source tree in /srv/app (not from site-packages) because the CLI finds
# alembic.ini and migrations/ next to the `app` package (app/cli.py: PROJECT_ROOT).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
# Only the lock file here, so the dependency layer is rebuilt only when the pins change.
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install -r /tmp/requirements.lock

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MARKETPLACE_ENVIRONMENT=production \
    MARKETPLACE_MEDIA_DIR=/srv/media
# A non-root user, and `marketplace <command>` as a shortcut for `python -m app.cli <command>`.
RUN groupadd --system --gid 10001 marketplace \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /srv/app marketplace \
    && printf '#!/bin/sh\nexec python -m app.cli "$@"\n' > /usr/local/bin/marketplace \
    && chmod 0755 /usr/local/bin/marketplace \
    && mkdir -p /srv/media && chown 10001:10001 /srv/media
# Uploaded images: mount a volume here (or swap LocalDiskStorage for object storage).
VOLUME ["/srv/media"]
COPY --from=builder /opt/venv /opt/venv
WORKDIR /srv/app
# Owned by root and read-only to the app user: the running service never writes its own code.
COPY alembic.ini pyproject.toml ./
COPY migrations/ migrations/
COPY app/ app/
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["sh", "-c", "python -m app.cli migrate && exec python -m app.cli serve --host 0.0.0.0 --port 8000"]
