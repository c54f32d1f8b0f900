"""Conflict detection, the resolvelib provider and fix plans (issues 3 and 4)."""
