"""The diary: entries of every kind, idempotent writes, versions, the changes feed."""
