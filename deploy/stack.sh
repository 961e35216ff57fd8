#!/usr/bin/env bash
# Local OpenRCM stack without Docker: PostgreSQL 15 (project-owned cluster), Apache Kafka 4.1 (KRaft,
# jars from Maven Central) and the service processes. Every step is idempotent: running `up` twice is
# harmless. State lives in $RCM_STACK_DIR (default: <repo>/.stack, git-ignored).
#
#   deploy/stack.sh bootstrap      install Python deps (uv, locked) and fetch Kafka jars
#   deploy/stack.sh infra-up       start PostgreSQL + Kafka, create roles/schemas/topics
#   deploy/stack.sh services-up    run migrations and start every service in deploy/services.tsv
#   deploy/stack.sh up             all of the above
#   deploy/stack.sh services-down | infra-down | down | status
#   deploy/stack.sh pg-down | pg-crash | pg-up | kafka-down | kafka-up    one piece of infrastructure (fault drill)
#   deploy/stack.sh kafka-add-integrator TENANT    a new tenant's Kafka intake topic and integrator principal
#   deploy/stack.sh mllp-client-cert TENANT        an HL7 interface engine's client certificate for charges' MLLP
#                                                  listener (127.0.0.1:2575 + RCM_PORT_OFFSET), naming TENANT
#
# RCM_TLS=1 (the default): PostgreSQL takes TLS connections only (services verify-full) and every service serves
# HTTPS, all with certificates of the development CA in $RCM_STACK_DIR/tls; RCM_TLS=0: plain TCP and HTTP.
# tests/support/client.py reads the same switch. Switching restarts nothing: run services-down, then up.
#   deploy/stack.sh backup | backups | restore [--to TIME]    base backup + WAL archive, point-in-time restore
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${RCM_STACK_DIR:-$ROOT/.stack}"
PG_PORT="${RCM_PG_PORT:-55432}"
KAFKA_PORT="${RCM_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${RCM_KAFKA_CONTROLLER_PORT:-19093}"
UV_VERSION="0.13.8"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"
AUTH_DIR="$STACK_DIR/auth"  # the development token issuer's key pair and the sandbox payer's API keys
TLS_DIR="$STACK_DIR/tls"    # the development CA (rcm_runtime.dev_ca) and the certificates it signed
TLS="${RCM_TLS:-1}"
tls_on() { [ "$TLS" != 0 ]; }
if tls_on; then SCHEME=https; else SCHEME=http; fi
mkdir -p "$STACK_DIR" "$LOG_DIR" "$RUN_DIR"

# A process is running if it exists and is not a zombie (an exited process whose parent, PID 1 in some
# containers, has not reaped it yet: `kill -0` still succeeds on it).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/stat" ] || return 0
  local state; state="$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)"
  [ "$state" != Z ] && [ "$state" != X ]
}

log() { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require() {  # what the machine must provide; everything else comes from the repository's own files
  command -v python3 >/dev/null || die "python3 (3.11) is required"
  command -v java >/dev/null || die "java (17+) is required for Kafka (Debian: openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "maven is required to fetch Kafka's jars (Debian: maven)"
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 server binaries are required (Debian: postgresql-15)"
}

# ---------------------------------------------------------------- python
uv_bin() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  if [ -x "$HOME/.local/bin/uv" ]; then echo "$HOME/.local/bin/uv"; return; fi
  log "installing uv $UV_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check --user "uv==$UV_VERSION" >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
  if command -v uv >/dev/null 2>&1; then command -v uv; else echo "$HOME/.local/bin/uv"; fi
}

python_sync() {
  local uv; uv="$(uv_bin)"
  log "uv sync (locked)"
  (cd "$ROOT" && "$uv" sync --frozen --all-packages --quiet)
}

PY() { "$ROOT/.venv/bin/python" "$@"; }

# ---------------------------------------------------------------- kafka
KAFKA_LIBS="$STACK_DIR/kafka-libs"
kafka_fetch() {
  if ls "$KAFKA_LIBS"/kafka_2.13-*.jar >/dev/null 2>&1; then return; fi
  log "fetching Kafka jars from Maven Central (deploy/kafka/pom.xml)"
  mkdir -p "$KAFKA_LIBS"
  mvn -B -q -f "$ROOT/deploy/kafka/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >&2
}

kafka_running() { [ -f "$RUN_DIR/kafka.pid" ] && alive "$(cat "$RUN_DIR/kafka.pid")"; }

# Clients reach Kafka over SASL_SSL only, each as its own SCRAM-SHA-512 principal, allowed only what its ACLs say
# (rcm_runtime.kafka_acls; README "Kafka security"). Every principal's password is made once, at random, into
# $KAFKA_AUTH_DIR/<principal>.password (0600); the broker's certificate comes from the development CA.
KAFKA_AUTH_DIR="$STACK_DIR/kafka-auth"
kafka_credentials() {
  PY "$ROOT/deploy/kafka_admin.py" credentials --stack-dir "$STACK_DIR" --tenants "$DEV_TENANTS" \
    || die "could not make the Kafka principals' passwords"
  PY -m rcm_runtime.dev_ca ensure "$TLS_DIR" --name kafka --hosts 127.0.0.1,localhost >/dev/null \
    || die "could not make Kafka's certificate"
}
kafka_password() { tr -d '\n' <"$KAFKA_AUTH_DIR/$1.password"; }

kafka_up() {
  kafka_fetch
  kafka_credentials
  if kafka_running; then log "kafka already running"; else
    local data="$STACK_DIR/kafka-data" conf="$STACK_DIR/kafka.properties"
    local broker_pw admin_pw; broker_pw="$(kafka_password rcm-broker)"; admin_pw="$(kafka_password rcm-admin)"
    # data of a stack from before SCRAM (plaintext, no principals): development data, made again
    if [ -f "$data/meta.properties" ] && [ ! -f "$STACK_DIR/kafka-data.scram" ]; then
      log "kafka data predates SASL/SCRAM: formatting it again"; rm -rf "$data"
    fi
    mkdir -p "$data"
    (umask 077; sed -e "s#@HOST@#127.0.0.1#g" -e "s#@DATA_DIR@#$data#" -e "s#@BROKER_PORT@#$KAFKA_PORT#" \
        -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#" -e "s#@TLS_DIR@#$TLS_DIR#" \
        -e "s#@BROKER_PASSWORD@#$broker_pw#g" \
        "$ROOT/deploy/kafka/server.properties.template" > "$conf")
    local jopts=(-Xms256m -Xmx512m -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.yaml")
    if [ ! -f "$data/meta.properties" ]; then
      local cluster_id
      cluster_id="$(java "${jopts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid)"
      # the super users exist from the start (the broker's own login, and the admin that makes everyone else)
      java "${jopts[@]}" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format -t "$cluster_id" \
        -c "$conf" --ignore-formatted \
        --add-scram "SCRAM-SHA-512=[name=rcm-broker,password=$broker_pw]" \
        --add-scram "SCRAM-SHA-512=[name=rcm-admin,password=$admin_pw]" >>"$LOG_DIR/kafka.log" 2>&1 \
        || die "could not format kafka's storage (see $LOG_DIR/kafka.log)"
      touch "$STACK_DIR/kafka-data.scram"
    fi
    log "starting kafka on 127.0.0.1:$KAFKA_PORT (SASL_SSL)"
    nohup java "${jopts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$conf" >>"$LOG_DIR/kafka.log" 2>&1 &
    echo $! > "$RUN_DIR/kafka.pid"
  fi
  PY "$ROOT/deploy/kafka_admin.py" wait-and-setup --stack-dir "$STACK_DIR" --bootstrap "127.0.0.1:$KAFKA_PORT" \
    --tenants "$DEV_TENANTS" || die "kafka did not become ready (see $LOG_DIR/kafka.log)"
}

kafka_add_integrator() {  # a new tenant's intake topic and integrator principal (the broker must be up)
  [ -n "${1:-}" ] || die "usage: deploy/stack.sh kafka-add-integrator TENANT"
  PY "$ROOT/deploy/kafka_admin.py" add-integrator --stack-dir "$STACK_DIR" --bootstrap "127.0.0.1:$KAFKA_PORT" \
    --tenant "$1"
}

kafka_down() {
  if kafka_running; then
    local pid; pid="$(cat "$RUN_DIR/kafka.pid")"
    log "stopping kafka (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/kafka.pid"
}

# ---------------------------------------------------------------- postgres
PG_BIN="$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")"
PG_DATA=""
pg_paths() {
  # The server refuses to run as root: as root, run it as the 'postgres' user, in a data directory
  # that user can reach (the repo may sit below a directory it cannot traverse).
  if [ "$(id -u)" = 0 ]; then
    PG_DATA="$STACK_DIR/pg"
    if ! runuser -u postgres -- test -x "$STACK_DIR" 2>/dev/null; then
      PG_DATA="/var/tmp/openrcm-pg-$(printf '%s' "$STACK_DIR" | md5sum | cut -c1-12)"
    fi
  else
    PG_DATA="$STACK_DIR/pg"
  fi
}
export PGOPTIONS="-c client_min_messages=warning"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# PostgreSQL's TLS and client authentication follow the switch on every pg_up (a reload applies a change to a
# running server): with TLS, TCP connections must be hostssl (a plain one finds no pg_hba entry and is refused);
# the Unix socket stays trusted for the stack's superuser tooling (psql, the tests' admin engine).
pg_tls_config() {
  local conf="$PG_DATA/openrcm_tls.conf" hba="$PG_DATA/pg_hba.conf" host=host
  grep -q "^include_if_exists = 'openrcm_tls.conf'" "$PG_DATA/postgresql.conf" \
    || echo "include_if_exists = 'openrcm_tls.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  if tls_on; then
    # copies inside the data directory: the server (the postgres user, as root) must own its key, mode 0600
    install -m 644 "$TLS_DIR/postgres.pem" "$PG_DATA/server.crt"
    install -m 600 "$TLS_DIR/postgres-key.pem" "$PG_DATA/server.key"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA/server.crt" "$PG_DATA/server.key"
    printf "%s\n" "# written by deploy/stack.sh (RCM_TLS=1)" "ssl = on" "ssl_cert_file = 'server.crt'" \
      "ssl_key_file = 'server.key'" "ssl_min_protocol_version = 'TLSv1.2'" | as_pg tee "$conf" >/dev/null
    host=hostssl
  else
    printf "%s\n" "# written by deploy/stack.sh (RCM_TLS=0)" "ssl = off" | as_pg tee "$conf" >/dev/null
  fi
  printf "%s\n" "# written by deploy/stack.sh on every pg_up (RCM_TLS=$TLS)" \
    "local all all trust" "local replication all trust" \
    "$host all all 127.0.0.1/32 scram-sha-256" "$host all all ::1/128 scram-sha-256" \
    "$host replication all 127.0.0.1/32 scram-sha-256" | as_pg tee "$hba" >/dev/null
}
# Continuous WAL archiving into the backup directory (deploy/backup.py): on unless RCM_WAL_ARCHIVE=off. A segment
# is archived when full or after RCM_WAL_ARCHIVE_TIMEOUT_S: at most that much committed work is lost with the disk.
# Passed on the server's command line, so switching it takes a PostgreSQL restart (pg-down, pg-up).
# The server (the 'postgres' user, as root) writes the WAL archive: beside the data directory's fallback when it
# cannot reach the stack directory (pg_paths).
BACKUP_DIR="${RCM_BACKUP_DIR:-$STACK_DIR/backups}"
if [ -z "${RCM_BACKUP_DIR:-}" ] && [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$STACK_DIR" 2>/dev/null; then
  BACKUP_DIR="/var/tmp/openrcm-backups-$(printf '%s' "$STACK_DIR" | md5sum | cut -c1-12)"
fi
pg_options() {
  local opts="-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1"
  if [ "${RCM_WAL_ARCHIVE:-on}" != off ]; then
    command -v zstd >/dev/null || die "zstd is required for WAL archiving (Debian: zstd), or set RCM_WAL_ARCHIVE=off"
    opts+=" $(backup_py server-options)" || die "cannot archive WAL into $BACKUP_DIR"
  fi
  printf '%s' "$opts"
}
backup_py() { RCM_PG_BIN="$PG_BIN" PY "$ROOT/deploy/backup.py" --dir "$BACKUP_DIR" --port "$PG_PORT" "$@"; }

pg_up() {
  pg_paths
  tls_setup
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $PG_DATA"
    mkdir -p "$PG_DATA"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >>"$LOG_DIR/postgres-init.log" 2>&1 \
      || as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust \
           --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >>"$LOG_DIR/postgres-init.log" 2>&1
  fi
  # The project's settings, copied on every start and included last: a cluster made by an older checkout gets
  # today's settings too (a running server reloads them; the few that need a restart wait for the next one).
  as_pg tee "$PG_DATA/openrcm.conf" <"$ROOT/deploy/postgres/postgresql.conf" >/dev/null
  grep -q "^include_if_exists = 'openrcm.conf'" "$PG_DATA/postgresql.conf" \
    || echo "include_if_exists = 'openrcm.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  pg_tls_config
  if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "postgres already running (settings, TLS and pg_hba.conf reloaded)"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null
  else
    log "starting postgres on 127.0.0.1:$PG_PORT ($(tls_on && echo TLS only || echo plain TCP))"
    local pglog="$PG_DATA/server.log"
    local pgopts; pgopts="$(pg_options)"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$pglog" -w -t 60 -o "$pgopts" start >/dev/null \
      || { cat "$pglog" >&2; die "postgres did not start"; }
  fi
  as_pg "$PG_BIN/psql" -h /tmp -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -f - <"$ROOT/deploy/postgres/bootstrap.sql" >/dev/null
  while read -r name pkg port schema; do
    as_pg "$PG_BIN/psql" -h /tmp -p "$PG_PORT" -U postgres -d openrcm -v ON_ERROR_STOP=1 -q \
      -v svc="$schema" -f - <"$ROOT/deploy/postgres/service_schema.sql" >/dev/null
  done < <(service_rows)
}

pg_crash() {  # the fault drill's outage: every server process stops at once, as in a crash (recovery on start)
  pg_paths
  if [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "stopping postgres immediately (no checkpoint)"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null
  fi
}

pg_down() {
  pg_paths
  if [ -f "$PG_DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "stopping postgres"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
  fi
}

# A restore stops the services (their consumer groups must be empty to be rewound), builds a new data directory
# (deploy/backup.py), rewinds the consumer groups to the recovery point, and leaves the services stopped.
pg_restore() {
  pg_paths
  services_down
  kafka_up >/dev/null 2>&1
  local pgopts; pgopts="$(pg_options)"
  backup_py restore --pgdata "$PG_DATA" --pg-options "$pgopts" --kafka-bootstrap "127.0.0.1:$KAFKA_PORT" "$@"
  log "restored; start the services with: deploy/stack.sh services-up"
}

# ---------------------------------------------------------------- authentication
# Made once and kept (tokens minted before stay valid): the development token issuer's EC key and JWKS
# (services trust it through RCM_AUTH_ISSUERS, a file:// JWKS), and one integrator API key per tenant the sandbox
# payer pushes 835s for (remittance gets the digests in RCM_API_KEYS, the sandbox the keys themselves).
DEV_TENANTS="tenant-a tenant-b demo"
auth_setup() {
  mkdir -p "$AUTH_DIR"; chmod 700 "$AUTH_DIR"
  PY -m rcm_runtime.dev_issuer keys "$AUTH_DIR" >/dev/null 2>&1 || die "could not write the token issuer's key"
  if [ ! -s "$AUTH_DIR/api-keys" ]; then
    rm -f "$AUTH_DIR/client-keys"
    for tenant in $DEV_TENANTS; do
      PY -m rcm_runtime.dev_issuer api-key --tenant "$tenant" --roles integrator --save "$AUTH_DIR" >/dev/null \
        || die "could not make the sandbox's API key for $tenant"
    done
    log "development token issuer and API keys in $AUTH_DIR"
  fi
}

# ---------------------------------------------------------------- TLS
# One server certificate for PostgreSQL and one per service (127.0.0.1 and localhost), made once and kept while
# valid (rcm_runtime.dev_ca); clients trust $TLS_DIR/ca.pem.
tls_setup() {
  tls_on || return 0
  local names=(--name postgres)
  while read -r name _; do names+=(--name "$name"); done < <(service_rows)
  PY -m rcm_runtime.dev_ca ensure "$TLS_DIR" --hosts 127.0.0.1,localhost "${names[@]}" >/dev/null \
    || die "could not make the development certificates in $TLS_DIR"
}

tls_env() {  # name -> the service's TLS exports: verified PostgreSQL, HTTPS served and called
  if tls_on; then
    export RCM_DB_SSLMODE=verify-full RCM_DB_CA_FILE="$TLS_DIR/ca.pem" RCM_TLS_CA_FILE="$TLS_DIR/ca.pem"
    export RCM_HTTP_TLS_CERT_FILE="$TLS_DIR/$1.pem" RCM_HTTP_TLS_KEY_FILE="$TLS_DIR/$1-key.pem"
  else
    export RCM_DB_SSLMODE=disable
    unset RCM_DB_CA_FILE RCM_TLS_CA_FILE RCM_HTTP_TLS_CERT_FILE RCM_HTTP_TLS_KEY_FILE
  fi
}

# ---------------------------------------------------------------- services
# RCM_PORT_OFFSET moves every service's port (a second stack beside the first: RCM_STACK_DIR, RCM_PG_PORT,
# RCM_KAFKA_PORT and RCM_KAFKA_CONTROLLER_PORT set too); tests/support/client.py reads the same offset.
PORT_OFFSET="${RCM_PORT_OFFSET:-0}"
service_rows() { grep -v '^#' "$ROOT/deploy/services.tsv" | awk -v off="$PORT_OFFSET" 'NF>=4 {$3=$3+off; print}' OFS='\t'; }

service_env() {  # name package port schema -> exports for that service
  local name="$1" port="$3" schema="$4"
  # the local stack's secrets are development ones (role passwords equal to role names, dev-* keys): outside
  # development a service refuses to start with them (rcm_runtime.secret_settings)
  export RCM_ENV=development
  export RCM_SERVICE_NAME="$name"
  export RCM_DB_SCHEMA="$schema"
  # the service runs as the runtime role; its migrations as the schema's owner (deploy/postgres/service_schema.sql)
  export RCM_DATABASE_URL="postgresql+asyncpg://$schema:$schema@127.0.0.1:$PG_PORT/openrcm"
  export RCM_MIGRATION_DATABASE_URL="postgresql+asyncpg://${schema}_owner:${schema}_owner@127.0.0.1:$PG_PORT/openrcm"
  export RCM_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
  # the service's own Kafka principal (svc-<name>): reads what it consumes, writes its own events topic
  export RCM_KAFKA_SECURITY_PROTOCOL=SASL_SSL RCM_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
  export RCM_KAFKA_USERNAME="svc-$name" RCM_KAFKA_CA_FILE="$TLS_DIR/ca.pem"
  export RCM_KAFKA_PASSWORD="$(kafka_password "svc-$name" 2>/dev/null)"
  export RCM_HTTP_PORT="$port"
  export RCM_CODING_TABLES_DIR="${RCM_CODING_TABLES_DIR:-$ROOT/deploy/reference-data}"
  export RCM_FILE_DROP_ROOT="${RCM_FILE_DROP_ROOT:-$STACK_DIR/clearinghouse-mailbox}"
  export RCM_AUTH_RULES_PATH="${RCM_AUTH_RULES_PATH:-$ROOT/deploy/reference-data/auth_rules.csv}"
  # the sandbox payer SBX02 pays through the clearinghouse (submission polls its 835s and forwards them to
  # remittance); SBX01 pushes to remittance's HTTP intake: the demo runs both ways in
  export RCM_ERA_VIA_CLEARINGHOUSE="${RCM_ERA_VIA_CLEARINGHOUSE-SBX02}"
  # the demo, the benchmark and the end-to-end tests post hundreds of encounters at once with one key: the local
  # stack lifts the per-client intake limit (rcm_runtime.rate_limits) well above what they send
  export RCM_INTAKE_RATE_PER_S="${RCM_INTAKE_RATE_PER_S:-1000}"
  export RCM_INTAKE_BURST="${RCM_INTAKE_BURST:-10000}"
  tls_env "$name"
  export RCM_SERVICE_URLS="${RCM_SERVICE_URLS:-$(service_rows | awk -v s="$SCHEME" '{printf "%s%s=%s://127.0.0.1:%s", (NR>1?",":""), $1, s, $3}')}"
  # bearer tokens of the development issuer (python -m rcm_runtime.dev_issuer token ...), and hashed API keys
  export RCM_AUTH_ISSUERS="${RCM_AUTH_ISSUERS:-urn:openrcm:dev-issuer=file://$AUTH_DIR/jwks.json}"
  export RCM_API_KEYS="${RCM_API_KEYS-$(cat "$AUTH_DIR/api-keys" 2>/dev/null)}"
  # RCM_STACK_SPANS=file (the suite's stack: deploy/test.sh): each service's spans beside its log
  if [ "${RCM_STACK_SPANS:-}" = file ]; then
    export RCM_OTEL_EXPORTER=file RCM_OTEL_FILE="$LOG_DIR/$name.spans.jsonl"
  fi
  if [ "$name" = charges ]; then  # HL7 v2 over MLLP (rcm_charges.mllp): TLS with client certificates naming the
    # tenant (mllp-client-cert); plain TCP (RCM_TLS=0, development) takes every message as RCM_MLLP_TENANT's
    export RCM_MLLP_PORT="${RCM_MLLP_PORT:-$((2575 + PORT_OFFSET))}"
    tls_on || export RCM_MLLP_TENANT="${RCM_MLLP_TENANT:-tenant-a}"
  fi
  if [ "$name" = sandbox ]; then  # the payer holds the keys remittance issued it, one per tenant
    export RCM_REMITTANCE_API_KEYS="${RCM_REMITTANCE_API_KEYS-$(cat "$AUTH_DIR/client-keys" 2>/dev/null)}"
  fi
}

services_up() {
  # Each service migrates its own schema, then starts; all in parallel, then we poll readiness.
  local names=("$@") started=()
  auth_setup
  tls_setup
  while read -r name pkg port schema; do
    if [ ${#names[@]} -gt 0 ] && [[ ! " ${names[*]} " =~ " $name " ]]; then continue; fi
    local pidf="$RUN_DIR/$name.pid"
    if [ -f "$pidf" ] && alive "$(cat "$pidf")"; then continue; fi
    (
      service_env "$name" "$pkg" "$port" "$schema"
      cd "$ROOT/services/$name"
      exec "$ROOT/deploy/run_service.sh" "$pkg" >>"$LOG_DIR/$name.log" 2>&1
    ) &
    echo $! > "$pidf"
    started+=("$name:$port")
  done < <(service_rows)
  for sp in "${started[@]}"; do
    local name="${sp%%:*}" port="${sp##*:}"
    RCM_TLS_CA_FILE="$TLS_DIR/ca.pem" PY "$ROOT/deploy/wait_http.py" "$SCHEME://127.0.0.1:$port/readyz" 120 \
      "$RUN_DIR/$name.pid" || { tail -n 40 "$LOG_DIR/$name.log" >&2; die "$name not ready (see $LOG_DIR/$name.log)"; }
    log "$name ready on $SCHEME://127.0.0.1:$port"
  done
}

services_down() {
  local pids=()
  for pidf in "$RUN_DIR"/*.pid; do
    [ -e "$pidf" ] || continue
    [ "$(basename "$pidf")" = kafka.pid ] && continue
    local pid; pid="$(cat "$pidf")"
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    rm -f "$pidf"
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done  # 30 s, as docker-compose gives
    kill -9 "$pid" 2>/dev/null || true
  done
  [ ${#pids[@]} -gt 0 ] && log "stopped ${#pids[@]} service process(es)"
  return 0
}

status() {
  pg_paths
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 && echo "postgres: up ($PG_PORT)" || echo "postgres: down"
  kafka_running && echo "kafka: up ($KAFKA_PORT)" || echo "kafka: down"
  while read -r name pkg port schema; do
    local pidf="$RUN_DIR/$name.pid"
    if [ -f "$pidf" ] && alive "$(cat "$pidf")"; then echo "$name: up ($SCHEME://127.0.0.1:$port/docs)"
    else echo "$name: down"; fi
  done < <(service_rows)
}

cmd="${1:-up}"; shift || true
case "$cmd" in
  bootstrap)     require; python_sync; kafka_fetch ;;
  infra-up)      require; python_sync; kafka_fetch; auth_setup; pg_up; kafka_up ;;
  services-up)   services_up "$@" ;;
  up)            require; python_sync; kafka_fetch; auth_setup; pg_up; kafka_up; services_up ;;
  services-down) services_down ;;
  infra-down)    kafka_down; pg_down ;;
  kafka-down)    kafka_down ;;
  kafka-up)      kafka_up ;;
  kafka-add-integrator) kafka_add_integrator "$@" ;;
  mllp-client-cert) [ $# -eq 1 ] || die "usage: mllp-client-cert TENANT"
                 PY -m rcm_runtime.dev_ca mllp-client "$TLS_DIR" --tenant "$1" ;;
  pg-down)       pg_down ;;
  pg-up)         pg_up ;;
  pg-crash)      pg_crash ;;
  backup)        backup_py base ;;
  backups)       backup_py list ;;
  backup-prune)  backup_py prune "$@" ;;
  restore)       pg_restore "$@" ;;
  pg-data)       pg_paths; echo "$PG_DATA" ;;
  down)          services_down; kafka_down; pg_down ;;
  status)        status ;;
  env)           service_env "$@"; env | grep '^RCM_' ;;
  *) die "unknown command: $cmd" ;;
esac
