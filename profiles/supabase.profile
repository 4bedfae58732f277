# pgferry profile: supabase
#
# A Supabase project: the platform owns the schemas below, their extensions, roles, event
# triggers and realtime publications, and has them in place in every project; the user
# owns everything else, their rows in auth and storage, and what they attach to the
# platform's tables (a trigger on auth.users, policies on storage.objects, a table in the
# supabase_realtime publication). Sources: Supabase's CLI (pkg/migration/dump.go: its
# InternalSchemas and reserved roles) and supabase/postgres's init scripts.
#
# Each line: a keyword and its values (names; * matches any run of characters).

name supabase

# Definitions managed by the platform: not restored into a project (they are there), and not
# checked for being absent. (supabase_migrations, the CLI's record of applied migrations, is
# the project's own: it travels with the app schema.)
managed-schemas auth storage realtime extensions graphql graphql_public vault pgsodium pgsodium_masks
managed-schemas supabase_functions net pgbouncer cron pgmq pgtle repack
managed-schemas _realtime _analytics _supavisor topology tiger tiger_data timescaledb_* _timescaledb_*

# Of those, the ones whose rows are the user's (accounts, files): dumped and restored.
user-data-schemas auth storage supabase_functions

# Rows that are the platform's own bookkeeping, even in a user-data schema.
exclude-table-data auth.schema_migrations storage.migrations supabase_functions.migrations

# Left out of a dump altogether: platform tables the project's postgres role may not read
# (Realtime revokes its migration table from it).
exclude-tables realtime.schema_migrations

# Roles the platform creates and manages: never created, altered or dropped by a restore;
# ownership is not given to them where the restoring role may not.
reserved-roles anon authenticated authenticator service_role dashboard_user pgbouncer postgres
reserved-roles supabase_* pgsodium_* pgtle_admin cli_login_*

# Extensions the platform installs: their CREATE EXTENSION is not run (a project has them, or
# the user enables them in the dashboard: a missing one is named with the command to run).
platform-extensions plpgsql pg_graphql pg_net supabase_vault pgsodium pg_stat_statements pgcrypto
platform-extensions uuid-ossp pgjwt pg_cron pgmq pg_tle supautils

# Publications the platform owns: not created; the user's tables in them are added.
platform-publications supabase_realtime supabase_realtime_messages_publication*

# Object kinds that belong to the platform.
skip event-triggers
skip reserved-role-default-privileges
