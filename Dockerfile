# syntax=docker/dockerfile:1
# One image for every OpenRCM service (deploy/services.tsv). The service is chosen at run time by
# RCM_SERVICE_NAME (or the first CMD argument); `--build-arg RCM_SERVICE_NAME=...` bakes a default in.
#
#   docker build -t openrcm/app:local .
#   docker run --rm -e RCM_SERVICE_NAME=charges -e RCM_DATABASE_URL=... openrcm/app:local
#   docker run --rm openrcm/app:local python deploy/kafka_admin.py wait-and-setup --stack-dir /secrets --bootstrap kafka:9092
#
# See docker-compose.yml for the full stack and deploy/docker/entrypoint.sh for the commands.

ARG PYTHON_IMAGE=python:3.11-slim

# ------------------------------------------------------------------ build: locked venv in /app/.venv
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

RUN pip install "uv==${UV_VERSION}"

WORKDIR /app

# Third-party dependencies first (own layer, rebuilt only when the lock or a member's metadata
# changes): uv needs the lockfile plus every workspace member's pyproject.toml.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/runtime/pyproject.toml libs/runtime/
COPY libs/x12/pyproject.toml libs/x12/
COPY services/analytics/pyproject.toml services/analytics/
COPY services/charges/pyproject.toml services/charges/
COPY services/coding/pyproject.toml services/coding/
COPY services/denials/pyproject.toml services/denials/
COPY services/eligibility/pyproject.toml services/eligibility/
COPY services/patient-billing/pyproject.toml services/patient-billing/
COPY services/remittance/pyproject.toml services/remittance/
COPY services/sandbox/pyproject.toml services/sandbox/
COPY services/scrubber/pyproject.toml services/scrubber/
COPY services/submission/pyproject.toml services/submission/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev --no-install-workspace

# Then the workspace itself (sources, migrations, deploy scripts); tests are excluded by .dockerignore.
COPY libs libs
COPY services services
COPY deploy deploy
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --all-packages --no-dev \
 && chmod 0755 deploy/docker/entrypoint.sh \
 && /app/.venv/bin/python -c "import rcm_runtime.serve, rcm_contracts.topics, alembic, uvicorn"

# ------------------------------------------------------------------ runtime: no uv, no build tools
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 rcm \
 && useradd --system --uid 10001 --gid rcm --home-dir /app --no-create-home --shell /usr/sbin/nologin rcm

WORKDIR /app
# Same path as in the builder: the venv's scripts and the editable workspace installs point at /app.
COPY --from=builder /app /app

ARG RCM_SERVICE_NAME=""
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RCM_HTTP_HOST=0.0.0.0 \
    RCM_SERVICE_NAME=${RCM_SERVICE_NAME}

# the 'rcm' user, numeric so that runtimes can verify it is not root
USER 10001:10001
EXPOSE 8101-8110

ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
# Migrations for $RCM_SERVICE_NAME, then `python -m rcm_runtime.serve <package>.app:create_app`.
CMD ["serve"]
