-- A cancel accepted (202) for a running job is also a mark on the job row, not only an
-- event: the statements that finish a job successfully require it unset, and because both
-- write the same row, Postgres orders them. Whichever commits first wins: a result stored
-- first makes the cancel a 400 (the job succeeded); a cancel recorded first makes the
-- result's fence refuse it, and the job ends cancelled as the 202 promised.
ALTER TABLE jobs ADD COLUMN cancel_requested_at timestamptz;
