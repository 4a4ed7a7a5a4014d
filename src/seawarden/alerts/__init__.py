"""Alerts: one per ongoing risky situation, revised as it develops, cancelled when it ends."""
