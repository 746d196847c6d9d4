-- The demo shop's orders.
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_email TEXT NOT NULL,
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

INSERT INTO orders (customer_email, total_cents) VALUES
    ('ada@example.com', 4200),
    ('grace@example.com', 1999),
    ('linus@example.com', 650);
