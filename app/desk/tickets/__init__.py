"""Tickets: creation, status changes, queries, and the ticket API."""
