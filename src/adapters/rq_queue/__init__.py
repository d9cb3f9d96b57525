"""RQ (Redis) job queue for the production profile."""
