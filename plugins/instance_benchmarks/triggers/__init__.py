"""Deferrable triggers: the waits on AWS that must not hold a worker slot."""
