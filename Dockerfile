# syntax=docker/dockerfile:1
# Dativo: the `dativo` CLI with its taps and targets (docs/DOCKER.md).
#   docker build -t dativo .
#   docker run --rm -v "$PWD/jobs:/app/jobs" -v "$PWD/secrets:/app/secrets" -v "$PWD/state:/app/state" \
#     dativo run --config /app/jobs/acme/csv_deals_to_iceberg.yaml --secrets-dir /app/secrets
#   docker run --rm -p 3000:3000 ... dativo start orchestrated --runner-config /app/configs/runner.yaml
# Mount points: /app/connectors /app/assets /app/jobs /app/configs /app/secrets /app/state
# (and /app/warehouse, /app/dead_letter, /app/data). Dependencies are pinned in
# docker/requirements.lock (`make docker-lock` refreshes it).

# --- builder: every wheel the runtime needs, pinned; nothing compiled in the runtime image ---
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY docker/requirements.lock ./docker/requirements.lock
RUN pip wheel --no-deps --wheel-dir /wheels -r docker/requirements.lock
COPY pyproject.toml README.md ./
COPY dativo_runner ./dativo_runner
COPY dativo_singer ./dativo_singer
COPY taps ./taps
COPY targets ./targets
# the platform and each of its Singer distributions (core, taps, targets: docs/PACKAGING.md)
RUN pip wheel --no-deps --wheel-dir /wheels ./dativo_singer ./taps/* ./targets/* .

# --- runtime: slim Python, the wheels installed without resolution, a non-root user ---
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATIVO_HOME=/app \
    DATIVO_UI_HOST=0.0.0.0

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-deps --no-index /wheels/*.whl \
    && pip check \
    && groupadd --gid 10001 dativo \
    && useradd --create-home --uid 10001 --gid 10001 dativo \
    && mkdir -p /app/connectors /app/assets /app/jobs /app/configs /app/secrets /app/state \
        /app/warehouse /app/dead_letter /app/data \
    && chown -R 10001:10001 /app

WORKDIR /app
COPY --chown=10001:10001 registry ./registry
COPY --chown=10001:10001 connectors ./connectors
COPY --chown=10001:10001 assets ./assets
COPY --chown=10001:10001 configs ./configs

# the `dativo` user (numeric so Kubernetes' runAsNonRoot can check it)
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["dativo"]
CMD ["--help"]
