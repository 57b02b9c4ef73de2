-- The convergence loop (docket/reconciler.py) checks non-terminal jobs against Temporal in
-- rounds, least recently checked first, so every such job is looked at within a bounded
-- number of rounds however many there are. Pending children of a batch are left out: their
-- batch starts them (and settles them if it is itself settled).
ALTER TABLE jobs ADD COLUMN checked_at timestamptz;
CREATE INDEX jobs_unsettled ON jobs (checked_at NULLS FIRST, id)
    WHERE status IN ('pending', 'running') AND NOT (status = 'pending' AND parent_job_id IS NOT NULL);
