"""Inbound e-mail: a mail gateway posts messages that become tickets or replies."""
