"""Backups of the database and the originals, and restoring them."""
