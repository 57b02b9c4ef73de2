-- Idempotency-Key on job creation: one job per (account, key), with the request it was for.

CREATE TABLE idempotency_keys (
    account_id    text NOT NULL REFERENCES accounts (id),
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    job_id        text NOT NULL REFERENCES jobs (id),
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (account_id, key)
);
