"""Prometheus collector over snapshots and the FastAPI query API. Outputs read, never compute."""
