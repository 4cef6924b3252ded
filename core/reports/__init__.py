"""Trial endpoint reports computed in the database, their CSV form and data dictionary."""
