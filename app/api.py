"""Every domain's /v1 router, in one place."""

from fastapi import APIRouter

from app.admin.router import router as admin_router
from app.auth.router import admin_router as admin_users_router
from app.auth.router import me_router
from app.auth.router import router as auth_router

DOMAIN_ROUTERS: tuple[APIRouter, ...] = (auth_router, me_router, admin_users_router, admin_router)
