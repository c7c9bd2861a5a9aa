"""Listings (挂牌): results offered on the market, their review, publication window and intents."""
