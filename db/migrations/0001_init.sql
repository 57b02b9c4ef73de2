-- Docket schema v1: tenancy, projects, files, jobs with their history, parse results.

CREATE TABLE accounts (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES accounts (id),
    -- sha256 of the key: keys are 256-bit random, so an unsalted fast hash is enough and
    -- lets one indexed lookup authenticate a request.
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked_at  timestamptz
);

CREATE TABLE projects (
    id             text PRIMARY KEY,
    account_id     text NOT NULL REFERENCES accounts (id),
    name           text NOT NULL,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    configuration  jsonb,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    archived_at    timestamptz
);
CREATE INDEX projects_account_created ON projects (account_id, created_at, id);

CREATE TABLE files (
    id           text PRIMARY KEY,
    project_id   text NOT NULL REFERENCES projects (id),
    filename     text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    mime_type    text NOT NULL,
    status       text NOT NULL CHECK (status IN ('uploading', 'uploaded', 'failed', 'deleted')),
    storage_key  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX files_project_created ON files (project_id, created_at, id);

CREATE TABLE jobs (
    id              text PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects (id),
    operation       text NOT NULL CHECK (operation IN (
                        'parse', 'batch_parse', 'extract', 'research', 'vector_store',
                        'chunk', 'summarization', 'create_index', 'update_index')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN (
                        'pending', 'running', 'succeeded', 'partially_succeeded',
                        'failed', 'cancelled')),
    source_id       text,
    correlation_id  text,
    parent_job_id   text REFERENCES jobs (id),
    parameters      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at      timestamptz,
    completed_at    timestamptz,
    result          jsonb,
    error           text
);
CREATE INDEX jobs_project_created ON jobs (project_id, created_at, id);
CREATE INDEX jobs_project_status_created ON jobs (project_id, status, created_at, id);
CREATE INDEX jobs_project_operation_created ON jobs (project_id, operation, created_at, id);
CREATE INDEX jobs_parent ON jobs (parent_job_id, id) WHERE parent_job_id IS NOT NULL;
-- The reconciler scans only pending jobs.
CREATE INDEX jobs_pending_created ON jobs (created_at) WHERE status = 'pending';

CREATE TABLE job_events (
    id           bigserial PRIMARY KEY,
    job_id       text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step         text NOT NULL,
    status       text,
    timestamp    timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms  bigint,
    details      jsonb,
    -- Events that must appear once (e.g. `cancel_requested`) carry a key; NULLs never collide.
    dedupe_key   text,
    UNIQUE (job_id, dedupe_key)
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE parse_results (
    id                  text PRIMARY KEY,
    project_id          text NOT NULL REFERENCES projects (id),
    job_id              text NOT NULL UNIQUE REFERENCES jobs (id),
    source_document_id  text NOT NULL,
    engine              text NOT NULL,
    page_count          integer NOT NULL,
    chunks              jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX parse_results_project_created ON parse_results (project_id, created_at, id);
