"""Persistence: tables, migrations, and every SQL statement of the project."""
