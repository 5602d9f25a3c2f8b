"""Service levels: calendar maths (no database), the per-ticket clock ledger, breach checks."""
