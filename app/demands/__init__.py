"""Technology demands (技术需求) posted by enterprises, their matches, and saved searches."""
