"""Every side effect a workflow needs: job status/history writes, file reads, parsing."""
