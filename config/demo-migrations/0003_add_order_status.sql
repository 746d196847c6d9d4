-- Orders get a status; existing orders are treated as paid.
ALTER TABLE orders ADD COLUMN status TEXT NOT NULL DEFAULT 'paid';

CREATE INDEX orders_status_idx ON orders (status);
