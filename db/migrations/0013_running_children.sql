-- The running children of a job, by parent: what a cancelled batch waits for before it is
-- settled (db/batches.py STOPPED, polled while its last children stop) and what a vector
-- store job's last indexing child checks (db/vector_chunks.py). A handful of rows per
-- parent, where the parent's full index walks all of its (say 10,000) children.
CREATE INDEX jobs_running_children ON jobs (parent_job_id)
    WHERE status = 'running' AND parent_job_id IS NOT NULL;
