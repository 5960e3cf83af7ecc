"""Use cases: ingestion, reports, organizations and clients. Callers own the transaction."""
