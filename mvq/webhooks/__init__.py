"""Webhooks by the Standard Webhooks convention: endpoints registered by admins, events mapped
from the audit log, signed deliveries in order per endpoint, retried with backoff."""
