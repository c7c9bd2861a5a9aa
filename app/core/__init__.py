"""Cross-cutting parts every domain package uses: settings, database, errors, auth, money."""
