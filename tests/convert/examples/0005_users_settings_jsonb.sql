ALTER TABLE users ALTER COLUMN settings TYPE jsonb USING COALESCE(settings, '{}')::jsonb;
ALTER TABLE users DROP COLUMN age;
