"""Every table of the service; importing this package registers them all on the shared metadata."""

from core.models.people import Role, User

__all__ = ["Role", "User"]
