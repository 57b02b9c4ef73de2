-- Rechunking ("parse once, rechunk as often as needed") needs what chunking consumed: the
-- pages with their blocks and boxes. Results stored before this migration have no pages
-- and cannot be rechunked (the API says so: parse the document again).
ALTER TABLE parse_results ADD COLUMN pages jsonb;
-- A rechunked result names the result it was made from.
ALTER TABLE parse_results ADD COLUMN source_result_id text REFERENCES parse_results (id);
