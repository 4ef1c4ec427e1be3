"""Pure policy: permissions per path, name filters, connection limits."""
