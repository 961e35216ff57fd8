#!/usr/bin/env bash
# Entrypoint of the OpenRCM app image (Dockerfile). The service table is deploy/services.tsv
# (name, python package, port, schema), the same one deploy/stack.sh reads.
#
#   entrypoint.sh [serve [SERVICE]]   migrate SERVICE (default $RCM_SERVICE_NAME), then serve it  (default CMD)
#   entrypoint.sh SERVICE             same as `serve SERVICE`
#   entrypoint.sh migrate [SERVICE]   run the service's Alembic migrations only
#   entrypoint.sh COMMAND [ARG...]    anything else runs as is, e.g.
#                                     python deploy/kafka_admin.py wait-and-setup --stack-dir /secrets --bootstrap kafka:9092
#
# Environment: RCM_* as read by rcm_runtime.settings. RCM_DB_SCHEMA and RCM_HTTP_PORT default to the
# service's row in services.tsv, RCM_HTTP_HOST to 0.0.0.0. RCM_MIGRATE=0 skips migrations (extra replicas).
set -euo pipefail

APP_DIR="${RCM_APP_DIR:-/app}"
SERVICES_TSV="${RCM_SERVICES_TSV:-$APP_DIR/deploy/services.tsv}"

log() { printf '[entrypoint] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

service_rows() { grep -v '^#' "$SERVICES_TSV" | awk 'NF>=4'; }
service_row() { service_rows | awk -v n="$1" '$1 == n { print $1, $2, $3, $4; exit }'; }
known_services() { service_rows | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }'; }

SVC_NAME="" SVC_PKG="" SVC_PORT="" SVC_SCHEMA=""
resolve() {  # [name] -> SVC_* and the RCM_* defaults for that service
  local name="${1:-${RCM_SERVICE_NAME:-}}" row
  [ -f "$SERVICES_TSV" ] || die "service table $SERVICES_TSV not found"
  [ -n "$name" ] || die "no service given: set RCM_SERVICE_NAME or pass one of: $(known_services)"
  row="$(service_row "$name")"
  [ -n "$row" ] || die "unknown service '$name' (not in $SERVICES_TSV); known: $(known_services)"
  read -r SVC_NAME SVC_PKG SVC_PORT SVC_SCHEMA <<<"$row"
  export RCM_SERVICE_NAME="$SVC_NAME"
  export RCM_DB_SCHEMA="${RCM_DB_SCHEMA:-$SVC_SCHEMA}"
  export RCM_HTTP_PORT="${RCM_HTTP_PORT:-$SVC_PORT}"
  export RCM_HTTP_HOST="${RCM_HTTP_HOST:-0.0.0.0}"
  # RCM_KAFKA_SECRETS_DIR (docker-compose's kafka-secrets volume): the service's own Kafka principal, svc-<name>,
  # its password and the CA, unless set explicitly (README "Kafka security")
  local secrets="${RCM_KAFKA_SECRETS_DIR:-}"
  if [ -n "$secrets" ]; then
    export RCM_KAFKA_USERNAME="${RCM_KAFKA_USERNAME:-svc-$SVC_NAME}"
    export RCM_KAFKA_CA_FILE="${RCM_KAFKA_CA_FILE:-$secrets/tls/ca.pem}"
    if [ -z "${RCM_KAFKA_PASSWORD:-}" ] && [ -r "$secrets/kafka-auth/$RCM_KAFKA_USERNAME.password" ]; then
      RCM_KAFKA_PASSWORD="$(tr -d '\n' <"$secrets/kafka-auth/$RCM_KAFKA_USERNAME.password")"; export RCM_KAFKA_PASSWORD
    fi
  fi
}

migrate() {
  if [ "${RCM_MIGRATE:-1}" = 0 ]; then log "RCM_MIGRATE=0: skipping migrations for $SVC_NAME"; return; fi
  log "migrating $SVC_NAME (schema $RCM_DB_SCHEMA)"
  (cd "$APP_DIR/services/$SVC_NAME" && alembic -c alembic.ini upgrade head) \
    || die "migrations failed for $SVC_NAME"
}

serve() {
  log "starting $SVC_NAME ($SVC_PKG.app:create_app) on $RCM_HTTP_HOST:$RCM_HTTP_PORT"
  cd "$APP_DIR/services/$SVC_NAME"
  exec python -m rcm_runtime.serve "$SVC_PKG.app:create_app"
}

cmd="${1:-serve}"
case "$cmd" in
  serve)   resolve "${2:-}"; migrate; serve ;;
  migrate) resolve "${2:-}"; migrate ;;
  *)
    if [ -f "$SERVICES_TSV" ] && [ -n "$(service_row "$cmd")" ]; then
      resolve "$cmd"; migrate; serve
    fi
    exec "$@"
    ;;
esac
