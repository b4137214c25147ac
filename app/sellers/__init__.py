"""Seller onboarding: applications, admin review, suspension."""
