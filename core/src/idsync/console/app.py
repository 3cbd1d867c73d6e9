"""The console application: pipelines, users, sessions and the routes of every page.

:func:`create_app` builds a Starlette application over one or more loaded pipelines (see
:func:`load_pipelines`). Every page needs a signed-in user; approving and rejecting need the
*approver* role. Sessions are signed cookies (HttpOnly, SameSite=Lax, Secure when asked);
every form carries the session's CSRF token. Behind a reverse proxy that authenticates users,
the console can take the user name from a header the proxy sets (``trust_header``), but only
from the proxy's own addresses.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from loguru import logger
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from idsync.config import ConfigError, Pipeline, load_pipeline
from idsync.engine import Engine
from idsync.plugins import Registry
from idsync.secrets import redact
from idsync.state import Store

from .jobs import Jobs
from .security import CSRF_FIELD, LoginThrottle, SecurityHeaders, csrf_ok, csrf_token
from .users import authenticate, session_stamp

__all__ = ["ConsoleSettings", "Loaded", "User", "create_app", "load_pipelines"]

SESSION_COOKIE = "idsync_console"


@dataclass(frozen=True)
class ConsoleSettings:
    """How the console runs (``idsync serve`` sets these from its options)."""

    as_of: dt.date | None = None
    """Plans and approvals evaluate at this date (default: the pipeline's today, each time)."""
    time_travel: bool = False
    """Let approvals enforce on ``as_of`` when it is not today (as ``--time-travel``)."""
    trust_header: str | None = None
    """The request header naming the user a reverse proxy authenticated (off by default)."""
    trusted_proxies: tuple[str, ...] = ()
    """The reverse proxies' addresses: ``trust_header`` and ``X-Forwarded-For`` are believed
    from these only."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only (behind a TLS-terminating proxy)."""
    session_hours: float = 8.0
    secret_key: str | None = None
    """Signs session cookies; a random one per process when not given (sessions then end
    when the console restarts)."""


@dataclass
class Loaded:
    """One pipeline the console shows, and whether its settings could be loaded."""

    pipeline: Pipeline
    engine: Engine
    """For reading: the state store, the rules. Jobs build engines of their own."""
    online: bool
    problem: str | None = None
    """Why the settings could not be loaded (the pipeline is then read-only here)."""

    @property
    def label(self) -> str:
        """The pipeline's name."""
        return self.pipeline.label

    @property
    def store(self) -> Store:
        """The pipeline's state store."""
        return self.engine.store


@dataclass(frozen=True)
class User:
    """The signed-in user."""

    name: str
    role: str

    @property
    def approver(self) -> bool:
        """Whether they may approve and reject held work."""
        return self.role == "approver"


def load_pipelines(paths: Sequence[Path], registry: Registry) -> list[Loaded]:
    """Load each pipeline file; one whose secrets are missing is loaded without its settings
    (read-only in the console). Raises :class:`~idsync.config.ConfigError` for a file that
    is invalid even so, or two pipelines of one name."""
    stores: dict[str, Store] = {}
    out: list[Loaded] = []
    for path in paths:
        problem = None
        try:
            pipeline = load_pipeline(path, registry)
            online = True
        except ConfigError as exc:
            pipeline = load_pipeline(path, registry, offline=True)
            online = False
            problem = "; ".join(f"{where}: {message}" for where, message in exc.errors)
        if any(o.label == pipeline.label for o in out):
            raise ConfigError(str(path), [("name", f"a second pipeline named {pipeline.label!r}")])
        store = stores.get(pipeline.state)
        if store is None:
            store = stores[pipeline.state] = Store(pipeline.state)
        out.append(
            Loaded(
                pipeline=pipeline,
                engine=Engine(pipeline, registry, store=store),
                online=online,
                problem=redact(problem) if problem else None,
            )
        )
    return out


@dataclass
class Console:
    """What every request handler shares."""

    pipelines: dict[str, Loaded]
    registry: Registry
    settings: ConsoleSettings
    templates: Jinja2Templates
    jobs: Jobs = field(default_factory=Jobs)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @property
    def users(self) -> Store:
        """The store the users are kept in: the first pipeline's."""
        return next(iter(self.pipelines.values())).store

    def as_of(self, loaded: Loaded | None = None) -> dt.date:
        """The date plans and approvals evaluate at: ``as_of``, or the pipeline's today."""
        if self.settings.as_of is not None:
            return self.settings.as_of
        return loaded.pipeline.today() if loaded is not None else dt.date.today()

    def job_engine(self, label: str) -> Engine:
        """A fresh engine for background work on a pipeline (sharing its store)."""
        loaded = self.pipelines[label]
        return Engine(loaded.pipeline, self.registry, store=loaded.store)

    def client(self, request: Request) -> str:
        """The client's address: the proxy's ``X-Forwarded-For`` when it comes through one."""
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded and peer in self.settings.trusted_proxies:
            return forwarded.split(",")[-1].strip() or peer
        return peer

    def identify(self, request: Request) -> User | str | None:
        """The signed-in user; a message when a trusted proxy names an unknown user."""
        header = self.settings.trust_header
        client = request.client.host if request.client else ""
        if header and client in self.settings.trusted_proxies:
            name = request.headers.get(header)
            if name:
                row = self.users.user(name)
                if row is None:
                    return f"{name!r} is not a user of this console (idsync users add)"
                return User(name=row["name"], role=row["role"])
        name = request.session.get("user")
        if not isinstance(name, str):
            return None
        row = self.users.user(name)
        if row is None or request.session.get("stamp") != session_stamp(row):
            request.session.pop("user", None)
            request.session.pop("stamp", None)
            return None
        return User(name=row["name"], role=row["role"])

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """A page, with what every page shows (the pipelines, the user, the CSRF token)."""
        flash = request.session.pop("flash", None)
        return self.templates.TemplateResponse(
            request,
            template,
            {
                "console": self,
                "pipelines": list(self.pipelines.values()),
                "csrf_field": CSRF_FIELD,
                "csrf": csrf_token(request),
                "flash": flash,
                "now": dt.datetime.now(dt.UTC),
                **context,
            },
            status_code=status_code,
            headers=headers,
        )

    def refuse(self, request: Request, status: int, message: str, user: User | None) -> Response:
        """An error page."""
        return self.render(
            request, "error.html", {"status": status, "message": message, "user": user}, status
        )


def console_of(request: Request) -> Console:
    """The console a request belongs to."""
    console: Console = request.app.state.console
    return console


View = Callable[[Request, Console, User], Any]


def page(
    template: str, view: View, *, role: str = "viewer"
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that shows ``template`` with what ``view`` returns (read in a worker
    thread), for a signed-in user of at least ``role``. A view may return a response."""

    async def endpoint(request: Request) -> Response:
        console = console_of(request)
        user = await run_in_threadpool(console.identify, request)
        if isinstance(user, str):
            return console.refuse(request, 403, user, None)
        if user is None:
            return RedirectResponse(_login_url(request), status_code=303)
        if role == "approver" and not user.approver:
            return console.refuse(request, 403, "this needs the approver role", user)
        result = await run_in_threadpool(view, request, console, user)
        if isinstance(result, Response):
            return result
        return console.render(request, template, {**result, "user": user})

    return endpoint


Action = Callable[[Request, Console, User, dict[str, str]], Response]


def form_action(
    action: Action, *, role: str = "viewer"
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint for a form: a signed-in user of ``role``, a valid CSRF token, then
    ``action`` (in a worker thread) with the form's fields."""

    async def endpoint(request: Request) -> Response:
        console = console_of(request)
        user = await run_in_threadpool(console.identify, request)
        if isinstance(user, str):
            return console.refuse(request, 403, user, None)
        if user is None:
            return RedirectResponse(_login_url(request), status_code=303)
        async with request.form(max_files=0, max_fields=20, max_part_size=64 * 1024) as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not csrf_ok(request, fields.get(CSRF_FIELD)):
            return console.refuse(request, 403, _CSRF_REFUSED, user)
        if role == "approver" and not user.approver:
            return console.refuse(request, 403, "this needs the approver role", user)
        response: Response = await run_in_threadpool(action, request, console, user, fields)
        return response

    return endpoint


_CSRF_REFUSED = (
    "the form's security token is missing or out of date (CSRF check): "
    "go back, reload the page and send it again"
)


def path_for(request: Request, name: str, /, **params: Any) -> URL:
    """A route's URL as a path (behind the root path): links stay on whatever scheme and
    host the browser used, through a reverse proxy too."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return URL(root + str(request.app.url_path_for(name, **params)))


def _login_url(request: Request) -> str:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    path = request.url.path
    if root and path.startswith(root):
        path = path[len(root) :]
    target = path + (f"?{request.url.query}" if request.url.query else "")
    return str(path_for(request, "login").include_query_params(next=target))


def _safe_next(value: str | None) -> str:
    """Only a path of this console to go to after signing in (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _local(request: Request, path: str) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/") + path


async def login(request: Request) -> Response:
    """Sign in with a user name and password (throttled after failures)."""
    console = console_of(request)
    next_url = _safe_next(request.query_params.get("next"))
    if request.method == "GET":
        return console.render(
            request, "login.html", {"user": None, "next": next_url, "error": None}
        )
    async with request.form(max_files=0, max_fields=10, max_part_size=8 * 1024) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_ok(request, fields.get(CSRF_FIELD)):
        return console.refuse(request, 403, _CSRF_REFUSED, None)
    name = fields.get("name", "").strip()
    password = fields.get("password", "")
    address = console.client(request)
    wait = console.throttle.wait(name, address)
    next_url = _safe_next(fields.get("next"))
    context = {"user": None, "next": next_url, "name": name}
    if wait > 0:
        logger.warning("console: sign-in of {!r} from {} refused: too many failures", name, address)
        return console.render(
            request,
            "login.html",
            {**context, "error": f"too many failed sign-ins: try again in {int(wait) + 1} s"},
            status_code=429,
            headers={"Retry-After": str(int(wait) + 1)},
        )
    user = await run_in_threadpool(authenticate, console.users, name, password)
    if user is None:
        console.throttle.failed(name, address)
        logger.warning("console: failed sign-in of {!r} from {}", name, address)
        return console.render(
            request,
            "login.html",
            {**context, "error": "wrong user name or password"},
            status_code=401,
        )
    console.throttle.succeeded(name)
    request.session.clear()
    request.session["user"] = user["name"]
    request.session["stamp"] = session_stamp(user)
    logger.info("console: {} signed in from {}", user["name"], address)
    return RedirectResponse(_local(request, next_url), status_code=303)


async def logout(request: Request) -> Response:
    """Sign out (a form, so another site cannot sign anyone out)."""
    console = console_of(request)
    async with request.form(max_files=0, max_fields=5) as form:
        sent = form.get(CSRF_FIELD)
    if not csrf_ok(request, sent):
        return console.refuse(request, 403, _CSRF_REFUSED, None)
    request.session.clear()
    return RedirectResponse(str(path_for(request, "login")), status_code=303)


@pass_context
def _template_url_for(context: dict[str, Any], name: str, /, **params: Any) -> URL:
    return path_for(context["request"], name, **params)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await run_in_threadpool(console_of_app(app).jobs.shutdown)


def console_of_app(app: Starlette) -> Console:
    """The console an application serves."""
    console: Console = app.state.console
    return console


def create_app(
    pipelines: Sequence[Loaded], registry: Registry, settings: ConsoleSettings | None = None
) -> Starlette:
    """The console over ``pipelines`` (at least one; users live in the first one's store)."""
    from . import pages

    if not pipelines:
        raise ValueError("the console needs at least one pipeline")
    settings = settings or ConsoleSettings()
    root = files("idsync.console")
    templates = Jinja2Templates(directory=str(root / "templates"))
    templates.env.globals["url_for"] = _template_url_for
    templates.env.globals["transition_label"] = pages.transition_label
    templates.env.filters["when"] = pages.when
    templates.env.filters["value"] = pages.show_value
    console = Console(
        pipelines={p.label: p for p in pipelines},
        registry=registry,
        settings=settings,
        templates=templates,
    )
    secret = settings.secret_key or secrets.token_urlsafe(48)
    app = Starlette(
        routes=[
            Route("/login", login, methods=["GET", "POST"], name="login"),
            Route("/logout", logout, methods=["POST"], name="logout"),
            *pages.routes(),
            Mount("/static", StaticFiles(directory=str(root / "static")), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(settings.session_hours * 3600),
                same_site="lax",
                https_only=settings.secure_cookies,
            ),
        ],
        lifespan=_lifespan,
        max_body_size=256 * 1024,
    )
    app.state.console = console
    return app
