# customer-graph: a production image. Build: docker build -t customer-graph .
# Run: migrations first (`customer-graph migrate upgrade`), then the server (the default command).
# See docker-compose.yml for PostgreSQL + a one-shot migrate step + the app.

# ---- builder: resolve and install the pinned dependencies into a virtualenv -------------------------------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first (from pyproject.toml, pinned by constraints.txt): this layer is reused until they change.
# Only the production ones: no extras, so no embedded PostgreSQL (pgserver, the `embedded` extra) in the image.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -c constraints.txt -r /tmp/requirements.txt \
 && python -c "import importlib.util, sys; sys.exit('pgserver is in the image' if importlib.util.find_spec('pgserver') else 0)"

# Then our own packages (listed explicitly in pyproject.toml), without touching the dependencies again.
COPY README.md alembic.ini ./
COPY server ./server
COPY compiled ./compiled
COPY schema ./schema
COPY resolvers ./resolvers
COPY db ./db
COPY integrations ./integrations
COPY migrations ./migrations
RUN pip install --no-deps . \
 && customer-graph --help > /dev/null \
 && cd / && python -c "import server.app"  # the installed packages, not /src: every one of them is there

# ---- runtime: slim Python, the virtualenv, a non-root user -------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    APP_HOST=0.0.0.0 \
    APP_PORT=8000 \
    STORAGE_LOCAL_PATH=/app/files

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --create-home --shell /usr/sbin/nologin app \
 && install -d -o app -g app /app/files
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
USER app

EXPOSE 8000
# Liveness: /health does no I/O. (Readiness for orchestrators: GET /ready, 503 until the database is migrated.)
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('APP_PORT', '8000'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# More processes: docker run ... customer-graph serve --host 0.0.0.0 --workers 4
# (`serve` runs uvicorn on the app factory, `server.app:create_app_from_env`; each worker builds its own app.)
CMD ["customer-graph", "serve", "--host", "0.0.0.0"]
