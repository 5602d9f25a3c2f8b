"""The service desk: customers, tickets and their SLA clocks."""
