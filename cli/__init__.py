"""The `mvq` command and the unit's HTTP client: an adapter beside api/ and workers/."""
