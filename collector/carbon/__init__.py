"""Grid carbon intensity providers, their cache and fallback chains."""
