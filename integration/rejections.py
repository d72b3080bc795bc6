"""Why the webhook route refuses a call: the reasons counted per connector.

Codes are what the route answers in ``error`` and what the connector form counts; the
signature reasons are those of :mod:`integration.signatures`.
"""

REJECTION_REASONS = [
    ("body_too_large", "Body too large"),
    ("unsupported_media_type", "Unsupported content type"),
    ("bad_signature", "Bad signature"),
    ("missing_header", "Missing signature header"),
    ("malformed_header", "Malformed signature header"),
    ("stale_timestamp", "Timestamp too old"),
    ("future_timestamp", "Timestamp in the future"),
    ("unknown_key_id", "Unknown signing key"),
    ("no_secret", "No secret configured"),
    ("source_not_allowed", "Source address not allowed"),
    ("rate_limited", "Rate limited"),
    ("bad_encoding", "Body not UTF-8"),
    ("inactive", "Connector archived"),
]
