"""Rewards and subsidies: reward policies, broker and party claims, rewards, payouts."""
