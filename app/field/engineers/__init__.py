"""Engineers: profiles, shifts, absences, positions, and their API."""
