"""The clinic dashboard as a sub-application mounted at /clinic: its routers, static files, HTML error pages
and the headers every page carries (a strict Content-Security-Policy: no inline script or style anywhere)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import deps, errors
from api.clinic import alerts, participants, reports, signin, visits, web
from core.errors import DomainError, NotAuthenticated, Throttled

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class PageHeaders:
    """CSP on every answer of the dashboard; pages (not the vendored static files) are never cached; the time
    the page took to build as `Server-Timing: app;dur=<ms>` (what bench/clinic.py measures)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith(f"{web.PREFIX}/static/")
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CSP.encode()))
                took = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                if not is_static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class _Overrides(dict[Any, Any]):
    """The dashboard's own dependency overrides first, then the parent app's (tests swap the database session
    there, and the dashboard must use the same one)."""

    def __init__(self, parent: dict[Any, Any]) -> None:
        super().__init__()
        self.parent = parent

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        return self.parent.get(key, default)


def create_clinic_app(parent: FastAPI) -> FastAPI:
    # unknown query parameters are named on the page and otherwise ignored (web.note_unknown_query says why)
    app = FastAPI(
        docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(web.note_unknown_query)]
    )
    overrides = _Overrides(parent.dependency_overrides)
    overrides[deps.current_actor] = web.clinic_actor
    app.dependency_overrides = overrides
    errors.install(app)  # the database-down answers; the HTML ones below replace the JSON ones for pages
    _install_pages_for_errors(app)
    app.mount("/static", StaticFiles(directory=str(web.STATIC_DIR)), name="static")
    for module in (signin, alerts, participants, visits, reports):
        app.include_router(module.router)
    app.add_middleware(PageHeaders)
    return app


def _error_page(request: Request, status: int, detail: str, fields: list[tuple[str, str]]) -> Response:
    if web.is_htmx(request):
        # shown in the page's message area (role=alert), whatever element the request meant to update
        fragment = web.TEMPLATES.get_template("_error.html").render(detail=detail, fields=fields)
        return HTMLResponse(fragment, status, headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    return web.TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {
            "prefix": web.PREFIX,
            "actor": None,
            "nav": [],
            "csrf": "",
            "new_alerts": None,
            "status": status,
            "detail": detail,
            "fields": fields,
        },
        status_code=status,
    )


def _install_pages_for_errors(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, NotAuthenticated):
            return web.sign_in_redirect(request)
        status = next((s for cls, s in errors.STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        response = _error_page(request, status, exc.detail, [(f.path, f.message) for f in exc.fields])
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = []
        for problem in exc.errors():
            path = ".".join(str(p) for p in problem.get("loc", ())[1:]) or "request"
            value = problem.get("input")
            shown = "" if isinstance(value, dict) or value is None else f" (got {str(value)[:60]})"
            fields.append((path, f"{problem.get('msg', 'is not valid')}{shown}"))
        return _error_page(request, 422, "Some of what was sent is not valid.", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            detail = f"Nothing is at {request.url.path}."
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        else:
            detail = str(exc.detail)
        return _error_page(request, exc.status_code, detail, [])
