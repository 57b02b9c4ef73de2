-- A parse result's chunks as rows, one per chunk in order, rather than one jsonb array:
-- a large document's array hit Postgres' jsonb size limit ("total size of jsonb array
-- elements exceeds the maximum") and one statement carrying it hit the command timeout.
-- Rows are written in bounded batches inside the fenced store (db/results.py) and read
-- back in order (the GET, vector indexing) by (result_id, position).
CREATE TABLE parse_result_chunks (
    result_id  text NOT NULL REFERENCES parse_results (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    chunk      jsonb NOT NULL,
    PRIMARY KEY (result_id, position)
);
-- Every result stored from now on keeps its chunks in rows (chunks NULL, chunk_count set);
-- results stored before keep their array, read through the view below as the same rows.
ALTER TABLE parse_results ALTER COLUMN chunks DROP NOT NULL;
ALTER TABLE parse_results ADD COLUMN chunk_count integer;
-- One read path for both layouts; a filter on result_id reaches both branches.
CREATE VIEW result_chunks AS
    SELECT result_id, position, chunk FROM parse_result_chunks
    UNION ALL
    SELECT r.id, (x.ord - 1)::integer, x.chunk
    FROM parse_results r, jsonb_array_elements(r.chunks) WITH ORDINALITY AS x (chunk, ord)
    WHERE r.chunks IS NOT NULL;
