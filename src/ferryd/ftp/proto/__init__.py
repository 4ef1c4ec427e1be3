"""ferryd."""
