"""The accounting of DESIGN.md section 4: windows, static/dynamic split, shares, CO2, snapshots."""
