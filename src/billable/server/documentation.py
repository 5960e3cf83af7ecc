"""The API's reference pages, served from the package: nothing is fetched from elsewhere.

Swagger UI (``/docs``) comes as fastapi-offline serves it. ReDoc's script would fetch its
maker's logo from a CDN: ``/redoc`` is served here under a content security policy that
keeps every fetch on this server (ReDoc hides the logo it cannot load).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

STATIC = "/static-offline-docs"  # fastapi-offline's static files
POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
          "worker-src 'self' blob:; connect-src 'self'")

router = APIRouter()


@router.get("/redoc", include_in_schema=False)
async def redoc() -> HTMLResponse:
    page = get_redoc_html(openapi_url="/openapi.json", title="billable - ReDoc",
                          redoc_js_url=f"{STATIC}/redoc.standalone.js", redoc_favicon_url=f"{STATIC}/favicon.png",
                          with_google_fonts=False)
    page.headers["Content-Security-Policy"] = POLICY
    return page
