ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('new', 'paid', 'shipped', 'cancelled'));
ALTER TABLE users ADD CONSTRAINT users_email_address_key UNIQUE (email_address);
CREATE INDEX orders_user_paid_idx ON orders (user_id) WHERE status = 'paid';
