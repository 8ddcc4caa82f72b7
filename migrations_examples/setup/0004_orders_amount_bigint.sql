-- The tables 0004_orders_amount_bigint changes, as the examples before it leave them,
-- with some rows. Run it as the role that will own the tables:
--   psql -v ON_ERROR_STOP=1 -f migrations_examples/setup/0004_orders_amount_bigint.sql "$URL"

CREATE TABLE users (
    id bigint PRIMARY KEY,
    email_address varchar(255) NOT NULL,
    name text,
    age integer,
    settings text,
    created_at timestamptz NOT NULL DEFAULT now(),
    country text NOT NULL DEFAULT 'unknown',
    email_verified boolean
);
CREATE INDEX users_country_idx ON users (country);

CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount_cents integer NOT NULL CHECK (amount_cents >= 0),
    status text NOT NULL DEFAULT 'new'
);

INSERT INTO users (id, email_address, name, age, settings, created_at, country, email_verified)
SELECT g,
       'user' || g || '@' || (ARRAY['example.com', 'example.org', 'mail.test'])[1 + g % 3],
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'User ' || g END,
       20 + g % 50,
       CASE WHEN g % 3 = 0 THEN NULL ELSE '{"theme": "dark"}' END,
       '2026-01-01'::timestamptz + g * interval '1 minute',
       (ARRAY['unknown', 'DE', 'FR', 'JP'])[1 + g % 4],
       g % 2 = 0
FROM generate_series(1, 2000) AS g;
INSERT INTO orders (id, user_id, amount_cents, status)
SELECT g,
       1 + g % 2000,
       g * 37 % 100000,
       (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4]
FROM generate_series(1, 5000) AS g;
