"""Kubernetes discovery through the official client: pods by label, agents' endpoints, app
annotations. Imported lazily by callers so that nothing needs a cluster unless configured."""
