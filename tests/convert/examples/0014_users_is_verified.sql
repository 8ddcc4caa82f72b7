ALTER TABLE users RENAME COLUMN email_verified TO is_verified;
ALTER TABLE users ALTER COLUMN is_verified SET DEFAULT false;
