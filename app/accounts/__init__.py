"""Organizations, people, memberships, platform staff, technology brokers and API keys."""
