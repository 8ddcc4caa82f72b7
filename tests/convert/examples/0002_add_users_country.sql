ALTER TABLE users ADD COLUMN country text NOT NULL DEFAULT 'unknown';
ALTER TABLE users ADD COLUMN email_verified boolean;
CREATE INDEX users_country_idx ON users (country);
