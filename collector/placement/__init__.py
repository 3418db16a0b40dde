"""The placement advisor: relocatable inference demand and the energy-latency frontier."""
