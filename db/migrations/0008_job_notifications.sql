-- Live job events (db/events.py, GET .../jobs/{id}/events). Every change of a job appends
-- one row to job_events in the statement that makes it (db/transitions.py, db/results.py,
-- db/batches.py, ...); these triggers ride on that insert, so every path announces itself,
-- in the same transaction, without a line in each statement.

-- A per-job sequence that follows commit order: the event's id is drawn only once the job's
-- row is locked. Statements that move a job hold that lock already (their UPDATE); an event
-- appended on its own (db/jobs.py APPEND_EVENT) now waits for it too. So a job's events
-- commit in id order, and a stream that has sent event n needs only the events after n.
-- (A job inserted by the same statement is not visible yet: nothing else can write to it.)
CREATE FUNCTION docket_job_event_sequence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM jobs WHERE id = NEW.job_id FOR NO KEY UPDATE;
    NEW.id := nextval(pg_get_serial_sequence('job_events', 'id'));
    RETURN NEW;
END $$;
CREATE TRIGGER job_events_sequence BEFORE INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION docket_job_event_sequence();

-- One notification per event, delivered at commit; the payload carries ids only: the job,
-- then its parent if it has one (a child's change is a progress change of its batch).
CREATE FUNCTION docket_job_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent text;
BEGIN
    SELECT parent_job_id INTO parent FROM jobs WHERE id = NEW.job_id;
    PERFORM pg_notify('docket_job', NEW.job_id || COALESCE(' ' || parent, ''));
    RETURN NULL;
END $$;
CREATE TRIGGER job_events_notify AFTER INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION docket_job_event_notify();
