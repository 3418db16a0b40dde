"""The agent: AF_PACKET capture, the bounded flow table and the agent's own /metrics."""
