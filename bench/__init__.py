"""DriftWatch benchmarks: API at scale, the detection engine and a scan, each against its floor (`python -m bench`)."""
