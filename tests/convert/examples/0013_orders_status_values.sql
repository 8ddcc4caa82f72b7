ALTER TABLE orders ADD CONSTRAINT orders_status_allowed
    CHECK (status IN ('new', 'paid', 'shipped', 'cancelled', 'refunded'));
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
