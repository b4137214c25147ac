"""Buyer-seller conversations about a listing or an order."""
