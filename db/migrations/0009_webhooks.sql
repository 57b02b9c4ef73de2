-- Webhooks (db/webhooks.py) and their transactional outbox: the delivery rows are written
-- by the statement that ends a job, whichever path ended it (worker, the API's cancel of a
-- pending job, the convergence loop), so a committed terminal status always has its
-- deliveries and a rolled-back one never has.

CREATE TABLE webhooks (
    id          text PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects (id),
    url         text NOT NULL,
    events      text[] NOT NULL,
    -- `whsec_` + base64 of the signing key (Standard Webhooks); shown once, at creation.
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_at  timestamptz
);
CREATE INDEX webhooks_project_created ON webhooks (project_id, created_at, id)
    WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    -- Also the `webhook-id` header and the id of the delivery's Temporal workflow.
    id             text PRIMARY KEY,
    webhook_id     text NOT NULL REFERENCES webhooks (id),
    job_id         text NOT NULL REFERENCES jobs (id),
    event          text NOT NULL,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'succeeded', 'failed')),
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Set once its workflow is started (docket/reconciler.py WebhookDispatcher).
    dispatched_at  timestamptz,
    completed_at   timestamptz,
    UNIQUE (webhook_id, job_id, event)
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_undispatched ON webhook_deliveries (created_at)
    WHERE dispatched_at IS NULL;

-- Recorded when an attempt starts and completed when it ends: an attempt cut short by a
-- worker's death stays without a duration (Temporal then runs the next one).
CREATE TABLE webhook_attempts (
    delivery_id  text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms  bigint,
    status_code  integer,
    error        text,
    PRIMARY KEY (delivery_id, attempt)
);

-- Deliveries of top-level jobs only: a batch's children are reported in its progress (a
-- batch of 10,000 documents is one webhook call, not 10,001).
CREATE FUNCTION docket_webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, webhook_id, job_id, event)
    SELECT 'whd_' || replace(gen_random_uuid()::text, '-', ''), w.id, NEW.id,
           'job.' || NEW.status
    FROM webhooks w
    WHERE w.project_id = NEW.project_id AND w.deleted_at IS NULL
      AND 'job.' || NEW.status = ANY (w.events)
    ON CONFLICT (webhook_id, job_id, event) DO NOTHING;
    IF FOUND THEN  -- the dispatcher starts the new deliveries of this job
        PERFORM pg_notify('docket_webhook', NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_webhook_outbox AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (NEW.parent_job_id IS NULL AND OLD.status IS DISTINCT FROM NEW.status
          AND NEW.status IN ('succeeded', 'partially_succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION docket_webhook_outbox();
