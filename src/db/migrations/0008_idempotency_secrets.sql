-- An answer that carried a secret (a new API key's) is kept without it, and its replay is refused.
ALTER TABLE idempotency_keys ADD COLUMN secret_withheld boolean NOT NULL DEFAULT false;

-- Answers of POST /api/v1/keys stored before: they hold a key's secret, which must never be kept.
DELETE FROM idempotency_keys WHERE method = 'POST' AND path LIKE '/api/v1/keys%';
