"""Staff accounts: who may sign in, with which role (admins only; docs/accounts.md)."""
