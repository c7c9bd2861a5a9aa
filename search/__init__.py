"""Search: the SearchBackend protocol and its PostgreSQL and Meilisearch backends."""
