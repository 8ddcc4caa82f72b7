ALTER TABLE orders ALTER COLUMN amount_cents TYPE bigint USING amount_cents::bigint;
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
