"""Systems outside Fieldline: CRM import, outgoing webhooks, inbound e-mail."""
