"""Who made a change: CloudTrail events read from LookupEvents or a trail's bucket, matched to drifts.

`identity` (who an event's userIdentity is), `catalogue` (which events can change which resource and
path) and `matcher` (which event explains which drift) are pure Python over dicts; `sources` reads AWS;
`ratelimit` keeps every worker under CloudTrail's request rate. drifts/services/attribution.py runs them.
"""
