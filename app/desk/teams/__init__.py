"""Desk teams: who works together; the queue's "my team's tickets" view reads them."""
