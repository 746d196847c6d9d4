-- Payment state of an invoice. A constant default is stored in the catalog (PostgreSQL 11+): no table rewrite.
ALTER TABLE invoices ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE invoices ADD COLUMN paid_at TIMESTAMPTZ;

-- NOT VALID: checked for new and updated rows at once, without scanning the table under this lock. The next
-- release's migration runs VALIDATE CONSTRAINT on its own, which does not block writes.
ALTER TABLE invoices
    ADD CONSTRAINT invoices_status_check CHECK (status IN ('open', 'paid', 'void')) NOT VALID;
