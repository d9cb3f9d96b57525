"""Use cases and the ports they need. No framework and no I/O library is imported here."""
