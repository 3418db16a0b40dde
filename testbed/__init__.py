"""The network-namespace 5G-like testbed: UE -> RU -> DU -> CU =GTP-U=> UPF -> inference server.

See testbed/README.md for the picture and testbed/topology.yaml for every number.
"""
