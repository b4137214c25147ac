"""Parcels: the shipments an order travels in, their carriers' tracking events, and what
those events do to the order (delivery starts the completion clock; a lost parcel stops it)."""
