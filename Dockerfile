# syntax=docker/dockerfile:1
# Build: docker build -t techexchange .   Run: see deploy/compose.yaml.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY search ./search
COPY workers ./workers
# Install the dependencies through the project, then drop the project itself: the runtime
# image runs the source in /app, next to alembic.ini and migrations/.
RUN pip install . && pip uninstall -y techexchange

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    LOG_JSON=true \
    HOST=0.0.0.0 \
    PORT=8000
RUN groupadd --system techx && useradd --system --gid techx --home-dir /app --shell /usr/sbin/nologin techx
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=techx:techx alembic.ini ./
COPY --chown=techx:techx migrations ./migrations
COPY --chown=techx:techx app ./app
COPY --chown=techx:techx search ./search
COPY --chown=techx:techx workers ./workers
USER techx
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["python", "-m", "app.cli"]
CMD ["serve"]
