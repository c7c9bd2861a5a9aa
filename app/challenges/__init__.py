"""Open challenges (揭榜挂帅): enterprises' needs published for proposals."""
