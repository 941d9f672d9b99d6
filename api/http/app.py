"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

import field_app
from api.accounts.users import LoginThrottle
from api.db.engine import open_database
from api.evidence.pixels import PixelQueue
from api.http.errors import install_error_handlers
from api.http.pages import page
from api.http.routes import (
    auth,
    cases,
    desk,
    directory,
    exports,
    layers,
    maps,
    photos,
    scoreboard,
    stewardship,
    tiles,
)
from api.http.security import SecurityMiddleware
from api.mapview.snapshots import MapData
from api.mapview.tiles import TileCache, count_cases
from api.mapview.tiles import warm_up as warm_tiles
from api.settings import Settings, get_settings

STATIC = Path(__file__).parent / "static"
log = logging.getLogger(__name__)
SWAGGER = "/static/vendor/swagger-ui"
FIELD_APP = Path(field_app.__file__).resolve().parent / "static"


@asynccontextmanager
async def _start_up(app: FastAPI) -> AsyncIterator[None]:
    """Read the map's snapshots in the background as the server starts, so the first map opened does not
    wait for them (at 100 000 cases each takes about two seconds); and decode the photos a stopped server
    left undecoded (`api.evidence.pixels`)."""
    def warm_up() -> None:
        factory = app.state.sessionmaker
        try:
            with factory() as session:
                tiled = count_cases(session) > app.state.settings.map_tiles_above
            if tiled:  # the map draws tiles: no snapshot to hold (gigabytes at province scale)
                warm_tiles(factory)
                return
        except Exception:  # a database not migrated yet: the requests will say so
            log.warning("map snapshots not prepared at start-up", exc_info=True)
            return
        app.state.map_data.warm_up(factory)

    threading.Thread(target=warm_up, daemon=True).start()
    app.state.pixel_queue.start()  # the photos a stopped server left undecoded first
    yield
    app.state.pixel_queue.close()  # the photo being decoded is finished; the rest wait for the next start


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app on `settings` (default: from the environment); the schema must be migrated."""
    settings = settings or get_settings()
    app = FastAPI(title="Redline", version="0.1.0", lifespan=_start_up, docs_url=None, redoc_url=None,
                  description="Rural houses on cultivated land and permanent basic farmland: "
                              "checks, cases and the review map.")
    factory = open_database(settings.resolved_database_url, settings.srid, write_wait_s=settings.write_wait_s)
    app.state.settings = settings
    app.state.engine = factory.kw["bind"]
    app.state.sessionmaker = factory
    app.state.map_data = MapData(settings.deadline_policy)
    app.state.login_throttle = LoginThrottle()
    app.state.tile_cache = TileCache()
    app.state.pixel_queue = PixelQueue(factory, settings.photo_dir, settings.evidence_policy)
    app.add_middleware(SecurityMiddleware)
    install_error_handlers(app)
    worker = field_app.service_worker(STATIC)

    @app.get("/field/sw.js", include_in_schema=False)
    def field_service_worker() -> Response:
        """The field app's service worker, its shell cache named after the shell's content (before the /field
        mount, which would serve the file as written); never taken from an HTTP cache."""
        return Response(worker, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/field", StaticFiles(directory=FIELD_APP, html=True), name="field")
    for module in (auth, cases, desk, directory, exports, layers, maps, photos, scoreboard, stewardship, tiles):
        app.include_router(module.router)

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        """Liveness: answered on the event loop, so it stays fast while worker threads are busy."""
        return {"status": "ok"}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API's interactive documentation, public like /openapi.json (every data route still needs a
        token); Swagger UI is served from this application, so it works offline."""
        html = get_swagger_ui_html(openapi_url="/openapi.json", title="Redline API",
                                   swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{SWAGGER}/swagger-ui.css",
                                   swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png")
        return page(bytes(html.body).decode())

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse("/map")

    return app
