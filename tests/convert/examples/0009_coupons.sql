CREATE TABLE coupons (
    id bigint PRIMARY KEY,
    code text NOT NULL UNIQUE,
    percent_off integer NOT NULL CHECK (percent_off BETWEEN 1 AND 100)
);
ALTER TABLE orders ADD COLUMN coupon_id bigint;
CREATE INDEX orders_coupon_id_idx ON orders (coupon_id);
