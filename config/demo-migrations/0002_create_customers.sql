-- Customers get their own table; orders keep the email for now.
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT
);

INSERT INTO customers (email) SELECT DISTINCT customer_email FROM orders;
