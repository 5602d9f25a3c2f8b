"""Parts catalogue, stock by location, reservations for planned visits, and their API."""
