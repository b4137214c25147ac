"""Offers: a buyer proposes a price for a listing, the seller accepts, declines or counters;
an accepted offer reserves the stock and is bought at the agreed price."""
