# Serving image: the FastAPI app under gunicorn, with the released model bundle baked in.
# Build context: the repository root after `flightdelay release` wrote build/model (the bundle
# plus release.json). The image tag is model-v<version>-<git short sha>; see README "Release and
# rollback". Serving never calls the registry: the model and its metadata are in the image.

FROM python:3.11.13-slim-bookworm AS build
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first (pinned, own layer), then the package itself without resolving anything.
COPY requirements-serve.txt ./
RUN pip install --no-cache-dir --requirement requirements-serve.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps . \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} +

# The C libraries of the serving path (api/forest.c, the scoring kernel, and api/rows.c, the batch
# check, built against this Python's headers; loaded with ctypes): built with the full image's
# compiler for the same Debian release and Python as the runtime, which then needs no compiler.
FROM python:3.11.13-bookworm AS kernel
WORKDIR /src
COPY api/__init__.py api/ckernel.py api/forest.c api/rows.c ./api/
RUN python -m api.ckernel

FROM python:3.11.13-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="flightdelay" \
      org.opencontainers.image.description="Probability that a scheduled NYC flight is disrupted"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODEL_DIR=/app/model \
    GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000"
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# Code and model stay root-owned: the service user can read them, not change them.
COPY api/ ./api/
COPY --from=kernel /src/api/_forest-*.so /src/api/_rows-*.so ./api/
COPY build/model/ ./model/
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["gunicorn", "-c", "api/gunicorn.conf.py", "api.main:app"]
