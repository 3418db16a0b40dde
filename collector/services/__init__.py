"""Wiring: settings -> objects -> run. One module per CLI subcommand."""
