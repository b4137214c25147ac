"""Coupons and promotions: percent and fixed amounts off, spend-X-save-Y tiers, funded by the
platform or by a shop, with a code or applied automatically."""
