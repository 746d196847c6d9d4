ALTER TABLE invoices DROP CONSTRAINT invoices_status_check;
ALTER TABLE invoices DROP COLUMN paid_at;
ALTER TABLE invoices DROP COLUMN status;
