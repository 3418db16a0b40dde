"""The SQLite store: written by the attributor, read by outputs and placement."""
