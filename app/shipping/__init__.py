"""Shipping carriers as data: who they are, their tracking-number formats and tracking pages;
and shops' shipping profiles, with the combined-shipping quote that carts and checkout share."""
