#!/usr/bin/env bash
# Init hook for the official postgres:15 image, mounted as /docker-entrypoint-initdb.d/10-openrcm.sh
# (see docker-compose.yml). It does what `deploy/stack.sh infra-up` does for its own cluster, from the
# same files (mounted read-only, nothing duplicated here):
#   $OPENRCM_SQL_DIR/postgresql.conf     appended to the cluster's postgresql.conf
#   $OPENRCM_SQL_DIR/bootstrap.sql       creates database openrcm
#   $OPENRCM_SQL_DIR/service_schema.sql  per schema in services.tsv: runtime role <schema> and owner role
#                                        <schema>_owner (passwords = names), schema owned by the owner,
#                                        search_path, no public access
#
# The image runs initdb hooks only when the data directory is empty. After adding a row to
# services.tsv, re-run it against the live container (every SQL step is idempotent):
#   docker compose exec -u postgres postgres bash /docker-entrypoint-initdb.d/10-openrcm.sh
#
# Written as one function so it also works when the image sources it instead of executing it.

openrcm_postgres_init() {
  set -Eeo pipefail
  local sql_dir="${OPENRCM_SQL_DIR:-/openrcm/postgres}"
  local tsv="${OPENRCM_SERVICES_TSV:-/openrcm/services.tsv}"
  local pg_user="${POSTGRES_USER:-postgres}"
  local f
  for f in "$sql_dir/bootstrap.sql" "$sql_dir/service_schema.sql" "$tsv"; do
    [ -r "$f" ] || { echo "openrcm init: $f not found (is it mounted?)" >&2; return 1; }
  done
  # quiet re-runs: "schema already exists, skipping" notices are expected
  local psql_cmd=(env PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
                  psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password -q --username "$pg_user")

  # Server tuning from the local stack; read when the image restarts the server after the init hooks.
  if [ -n "${PGDATA:-}" ] && [ -w "$PGDATA/postgresql.conf" ] && [ -r "$sql_dir/postgresql.conf" ] \
     && ! grep -q 'OpenRCM local stack' "$PGDATA/postgresql.conf"; then
    cat "$sql_dir/postgresql.conf" >> "$PGDATA/postgresql.conf"
  fi

  "${psql_cmd[@]}" --dbname postgres -f "$sql_dir/bootstrap.sql" >/dev/null

  local name schema count=0
  while read -r name _ _ schema; do
    "${psql_cmd[@]}" --dbname openrcm -v svc="$schema" -f "$sql_dir/service_schema.sql" >/dev/null
    echo "openrcm init: role and schema '$schema' ready (service $name)"
    count=$((count + 1))
  done < <(grep -v '^#' "$tsv" | awk 'NF>=4')
  [ "$count" -gt 0 ] || { echo "openrcm init: no service rows in $tsv" >&2; return 1; }
}

openrcm_postgres_init
