"""Development-only tools: the moto fake AWS account and its seeded estate, the pytest plugin, the
`make run` supervisor and its demo.

Tests, benchmarks and conftest.py may import this package; the runtime apps (driftwatch, providers,
baselines, drifts) never do, and the production image does not ship it (.dockerignore).
Nothing here is imported at package level: `devtools.demo` needs Django, the rest does not.
"""
