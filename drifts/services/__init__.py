"""What the drifts app does, one module per job: triage (the state machine), detection (starting scans),
jobs (the life of a job and its units) and scan (recording what one unit found)."""
