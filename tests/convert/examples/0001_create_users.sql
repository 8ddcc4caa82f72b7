CREATE TABLE users (
    id bigint PRIMARY KEY,
    email varchar(255) NOT NULL,
    name text,
    age integer,
    settings text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount_cents integer NOT NULL CHECK (amount_cents >= 0),
    status text NOT NULL DEFAULT 'new'
);
