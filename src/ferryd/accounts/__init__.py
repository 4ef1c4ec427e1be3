"""Accounts beyond ferryd's own user store: system users (PAM) and their jails."""
