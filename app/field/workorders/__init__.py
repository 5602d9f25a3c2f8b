"""Work orders: creation, status machine, visits (check-in/out, parts used), queries, API."""
