-- Orders get a status; every existing order is backfilled as paid.
ALTER TABLE orders ADD COLUMN status TEXT;

UPDATE orders SET status = 'paid';

CREATE INDEX orders_status_idx ON orders (status);
