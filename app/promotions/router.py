"""The promotions routes."""

from fastapi import APIRouter

ROUTERS: tuple[APIRouter, ...] = ()
"""Every router of the package, in the order `app.api` includes them."""
