# Dativo: the `dativo` CLI with its taps and targets. Mount jobs/, secrets/, state/ and warehouse/
# (and your own connectors/, assets/, configs/) under /app: `docker run IMAGE run --config /app/jobs/...`,
# or `docker run -p 3000:3000 IMAGE start orchestrated --runner-config /app/configs/runner.yaml`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATIVO_HOME=/app \
    DATIVO_UI_HOST=0.0.0.0

WORKDIR /src
COPY pyproject.toml README.md ./
COPY dativo_runner ./dativo_runner
COPY dativo_singer ./dativo_singer
COPY taps ./taps
COPY targets ./targets
RUN pip install ".[orchestration]" \
    && useradd --create-home --uid 10001 dativo \
    && mkdir -p /app/state /app/warehouse /app/dead_letter \
    && chown -R dativo /app

WORKDIR /app
COPY --chown=dativo registry ./registry
COPY --chown=dativo connectors ./connectors
COPY --chown=dativo assets ./assets
COPY --chown=dativo configs ./configs

USER dativo
EXPOSE 3000
ENTRYPOINT ["dativo"]
CMD ["--help"]
