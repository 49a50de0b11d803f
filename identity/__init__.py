"""Who may speak to the broker: the device registry, service accounts and their broker rules.

The registry (SQLite, beside the API keys) is the source of truth; the broker enforces what it
says. On Mosquitto the rules are pushed to its dynamic-security plugin; a clustered broker can
ask the same rules over HTTP (`identity.grants.allows`).
"""
