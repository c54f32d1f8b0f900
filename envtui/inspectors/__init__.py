"""Inspectors: finding and statically reading environments, one module per kind."""
