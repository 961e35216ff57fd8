-- Two roles and one schema per service (psql variable :svc). Runs on every `stack.sh infra-up`; idempotent, also
-- against a database made before the two roles existed (the runtime role owned the schema and its tables then).
--   :svc        the role the service runs as (RCM_DATABASE_URL): LOGIN, USAGE on its schema and the data rights
--               the migrations grant it (rcm_runtime.row_security.grant_runtime); never an owner, never a member
--               of the owner, no BYPASSRLS: it cannot turn row-level security off nor get around it.
--   :svc_owner  owns the schema and everything in it; only migrations log in as it (RCM_MIGRATION_DATABASE_URL).
-- Local development password = role name; real deployments inject their own secrets.
\set owner :svc '_owner'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'svc', :'svc')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'svc')
\gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'owner', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner')
\gexec
SELECT format('ALTER ROLE %I NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', r)
  FROM unnest(ARRAY[:'svc', :'owner']) AS r
\gexec
-- a runtime role that could SET ROLE to the owner could also switch row security off
SELECT format('REVOKE %I FROM %I', :'owner', :'svc')
 WHERE EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                WHERE g.rolname = :'owner' AND u.rolname = :'svc')
\gexec
-- before the split the runtime role owned the schema, its tables and sequences: hand them all to the owner
-- (the runtime role's own rights come back from the next migration run, as grants)
SELECT format('REASSIGN OWNED BY %I TO %I', :'svc', :'owner')
\gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'svc', :'owner')
\gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'svc', :'owner')
\gexec
SELECT format('REVOKE CREATE ON SCHEMA %I FROM %I', :'svc', :'svc')
\gexec
SELECT format('GRANT USAGE ON SCHEMA %I TO %I', :'svc', :'svc')
\gexec
SELECT format('ALTER ROLE %I SET search_path = %I', r, :'svc')
  FROM unnest(ARRAY[:'svc', :'owner']) AS r
\gexec
SELECT format('REVOKE ALL ON SCHEMA public FROM %I', r)
  FROM unnest(ARRAY[:'svc', :'owner']) AS r
\gexec
