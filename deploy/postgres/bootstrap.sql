-- Runs against the 'postgres' database on every `stack.sh infra-up`; idempotent.
SELECT 'CREATE DATABASE openrcm' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'openrcm')
\gexec
