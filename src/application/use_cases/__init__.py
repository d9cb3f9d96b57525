"""One use case per module; each is a small class called through ``execute``."""
