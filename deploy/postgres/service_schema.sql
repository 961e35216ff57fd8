-- One role and one schema per service (psql variable :svc). Runs on every `stack.sh infra-up`; idempotent.
-- Local development password = role name; real deployments inject their own secrets.
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'svc', :'svc')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'svc')
\gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'svc', :'svc')
\gexec
SELECT format('ALTER ROLE %I SET search_path = %I', :'svc', :'svc')
\gexec
SELECT format('REVOKE ALL ON SCHEMA public FROM %I', :'svc')
\gexec
