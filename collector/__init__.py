"""e2e-energy: end-to-end energy and CO2 of AI inference over 5G/edge networks."""

__version__ = "0.1.0"
