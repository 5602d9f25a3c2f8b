"""Customers: search keys, search, the 360 view, and its API."""
