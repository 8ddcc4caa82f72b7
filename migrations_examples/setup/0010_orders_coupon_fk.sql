-- The tables 0010_orders_coupon_fk changes, as the examples before it leave them,
-- with some rows. Run it as the role that will own the tables:
--   psql -v ON_ERROR_STOP=1 -f migrations_examples/setup/0010_orders_coupon_fk.sql "$URL"

CREATE TABLE users (
    id bigint PRIMARY KEY,
    email_address varchar(255) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    country text NOT NULL DEFAULT 'unknown',
    email_verified boolean,
    name text NOT NULL,
    settings jsonb,
    email_domain text NOT NULL,
    CONSTRAINT users_email_address_key UNIQUE (email_address)
);

CREATE TABLE coupons (
    id bigint CONSTRAINT coupons_pkey PRIMARY KEY,
    code text NOT NULL CONSTRAINT coupons_code_key UNIQUE,
    percent_off integer NOT NULL CONSTRAINT coupons_percent_off_check CHECK (percent_off BETWEEN 1 AND 100)
);

CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'new',
    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
    coupon_id bigint,
    CONSTRAINT orders_status_check CHECK (status IN ('new', 'paid', 'shipped', 'cancelled'))
);
CREATE INDEX orders_user_paid_idx ON orders (user_id) WHERE status = 'paid';
CREATE INDEX orders_coupon_id_idx ON orders (coupon_id);

CREATE TABLE audit_events (
    id bigint PRIMARY KEY,
    user_id bigint REFERENCES users (id),
    kind text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_at_idx ON audit_events (at);

INSERT INTO users (id, email_address, created_at, country, email_verified, name, settings, email_domain)
SELECT g,
       'user' || g || '@' || (ARRAY['example.com', 'example.org', 'mail.test'])[1 + g % 3],
       '2026-01-01'::timestamptz + g * interval '1 minute',
       (ARRAY['unknown', 'DE', 'FR', 'JP'])[1 + g % 4],
       g % 2 = 0,
       'User ' || g,
       CASE WHEN g % 3 = 0 THEN NULL ELSE '{"theme": "dark"}' END::jsonb,
       (ARRAY['example.com', 'example.org', 'mail.test'])[1 + g % 3]
FROM generate_series(1, 2000) AS g;
INSERT INTO coupons (id, code, percent_off)
SELECT g, 'SAVE' || g * 5, g * 5
FROM generate_series(1, 5) AS g;
INSERT INTO orders (id, user_id, status, amount_cents, coupon_id)
SELECT g,
       1 + g % 2000,
       (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4],
       g * 37 % 100000,
       CASE WHEN g % 7 = 0 THEN 1 + g % 5 END
FROM generate_series(1, 5000) AS g;
INSERT INTO audit_events (id, user_id, kind, at)
SELECT g, 1 + g % 2000, 'login', '2026-01-01'::timestamptz + g * interval '1 hour'
FROM generate_series(1, 200) AS g;
