-- A batch's children keep the order of the `source_document_ids` the user submitted:
-- `progress.child_jobs` lists them by this position (1-based), not by their random ids.
-- NULL for jobs that are not children, and for children created before this migration
-- (those are listed after the positioned ones, by id, as before).
ALTER TABLE jobs ADD COLUMN child_position integer;
