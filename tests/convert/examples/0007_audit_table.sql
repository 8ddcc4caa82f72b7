CREATE TABLE audit_events (
    id bigint PRIMARY KEY,
    user_id bigint REFERENCES users (id),
    kind text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
DROP INDEX users_country_idx;
