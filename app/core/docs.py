"""Swagger UI served from the app's own files (no CDN), wired to the password flow.

The assets are Swagger UI 5 (which renders OpenAPI 3.1, what FastAPI emits) as shipped in the
`fastapi-offline` package: its version is pinned in requirements.lock, and
`SWAGGER_UI_VERSION` below names the Swagger UI release inside it (a test checks the bundle).
"""

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_PREFIX = "/static/swagger-ui"
DOCS_PATH = "/docs"
SWAGGER_UI_VERSION = "5.32.6"
SWAGGER_UI_ASSETS = Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    app.mount(STATIC_PREFIX, StaticFiles(directory=SWAGGER_UI_ASSETS), name="swagger-ui")
    redirect_url = f"{DOCS_PATH}/oauth2-redirect"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API docs",
            swagger_js_url=f"{STATIC_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/favicon.png",
            oauth2_redirect_url=redirect_url,
            swagger_ui_parameters={
                "persistAuthorization": True,
                # Swagger UI would otherwise send the spec to validator.swagger.io.
                "validatorUrl": None,
                "displayRequestDuration": True,
            },
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
