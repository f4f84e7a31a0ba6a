"""Production settings plus one extra URL: the bare Django view the API is compared against."""

from driftwatch.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
