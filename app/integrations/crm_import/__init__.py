"""CSV import of customers, sites, contacts and assets from a CRM export."""
