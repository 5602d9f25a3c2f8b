"""The demo company generator (fieldline seed): synthetic but plausible customers, tickets, history."""
