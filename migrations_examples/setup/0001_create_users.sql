-- The tables 0001_create_users changes, as the examples before it leave them,
-- with some rows. Run it as the role that will own the tables:
--   psql -v ON_ERROR_STOP=1 -f migrations_examples/setup/0001_create_users.sql "$URL"

-- 0001 creates the first tables: there is nothing to set up.
