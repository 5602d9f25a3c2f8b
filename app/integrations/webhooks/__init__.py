"""Outgoing webhooks: subscriptions, signed deliveries with retries, and their API."""
