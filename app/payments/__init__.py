"""Payments: the provider protocol and its offline and Stripe providers."""
