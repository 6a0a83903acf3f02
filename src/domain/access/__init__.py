"""Who may watch what: the access policy, and story ownership remembered."""
