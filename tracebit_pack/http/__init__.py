"""The Panther HTTP source: its contract (HMAC header, limits), ``send`` and a local ``receive``."""
