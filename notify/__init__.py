"""Notifications: alerts delivered to people by webhook, e-mail and Web Push, through an outbox."""
