"""The kernel every domain stands on: settings, database, errors, HTTP helpers, auth, audit,
events, background work."""
