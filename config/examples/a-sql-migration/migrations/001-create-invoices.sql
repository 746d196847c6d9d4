-- Invoices issued to customers; amounts in cents.
CREATE TABLE invoices (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    number TEXT NOT NULL UNIQUE,
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency CHAR(3) NOT NULL DEFAULT 'EUR',
    issued_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A new, empty table: a plain index is built at once and the migration stays in one transaction.
CREATE INDEX invoices_customer_id_idx ON invoices (customer_id);
