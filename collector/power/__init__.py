"""Power, traffic-total and request sources: one module each, a pure parse_* and a thin fetch."""
