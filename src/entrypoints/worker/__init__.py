"""Background work: RQ job functions, the RQ worker process and the embedded worker thread."""
