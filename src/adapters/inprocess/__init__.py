"""In-process job queue for the embedded profile: one worker thread inside ``serve``."""
