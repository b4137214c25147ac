"""Favourites and saved searches: a buyer keeps listings and searches, and hears when a kept
listing's price drops or it is back in stock, and when new listings match a kept search."""
