"""Signed exports of the whole record and evidence bundles of one claim: they read every domain."""
