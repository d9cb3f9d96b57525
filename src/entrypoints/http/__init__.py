"""The Flask HTTP API: it only translates HTTP to use cases and errors back."""
