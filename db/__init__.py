"""The Postgres layer: pool, migrations, and SQL (the job state machine lives here as
conditional UPDATEs)."""
