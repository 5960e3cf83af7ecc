"""billable: a billable-usage service and SDK, wire-compatible with Genesys Cloud."""

__version__ = "0.1.0"
