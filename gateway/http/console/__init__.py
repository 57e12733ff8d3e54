"""The auditor console: server-rendered pages at ``/console`` for auditors.

An auditor signs in with the bearer token of a client that has the
``auditor`` role (the same credential as the auditor API). The session is kept
on the server, in the node's database that every worker and replica shares
(:mod:`gateway.node.console_sessions`); the browser's cookie (Flask's signed cookie,
keyed by a secret derived from the node's storage key) carries only its random
id. Every request checks the session's row and the client again: signing out,
or revoking or rotating the client, ends the session at once, and a session
ends after 30 minutes idle and 8 hours in all, by the node's clock.
Every form carries a CSRF token; the cookie is ``HttpOnly`` and
``SameSite=Strict`` (and ``Secure`` on a node serving TLS or in production);
failed sign-ins are limited per source address, counted in the database that
every worker and replica shares (gateway.node.refusals).

Pages: the exchange list (filters, paging), a batch (timeline on both nodes,
digests, signer keys, verification badges, evidence bundle download), the
log (checkpoint, cosignatures, witnessed logs, witness alerts, verification),
the service levels of the case ledger (figures by month and unit, charts, steps
overdue) and a case (its steps and the exchanges they come from).
The console shows audit entries and the case ledger only: identifiers, counts,
digests, dates and codes, never a record (docs/CONSOLE.md).

The charts are SVG images served by their own URL (``chart/<name>.svg``), under a
policy of their own: matplotlib's SVG styles itself inline, which the pages'
policy does not allow, and an image never runs a script.

The console may import gateway.http's shared modules (request_helpers,
error_responses), gateway.exchange, gateway.peers (evidence bundles, the peer's
side of an exchange) and everything below them, Flask, Jinja and Babel.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    g,
    get_template_attribute,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.wrappers import Response as BaseResponse

from gateway.cases import charts, reports
from gateway.errors import BadRequest, NotFound, Unauthorized
from gateway.http.console import evidence, i18n, service_levels
from gateway.http.request_helpers import node as _node
from gateway.http.request_helpers import refuse
from gateway.node import console_sessions
from gateway.node.config import ClientConfig
from gateway.node.node import Node
from gateway.node.refusals import Throttle
from gateway.peers import bundles

__all__ = ["ConsoleSessions", "bp", "init_app"]

log = logging.getLogger(__name__)

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

IDLE = console_sessions.IDLE
LIFETIME = console_sessions.LIFETIME
PER_PAGE = 25
# Failed sign-ins per source address (a sign-in that succeeds is not counted).
SIGN_IN_RATE = "10/minute"
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# A chart: an SVG image that styles itself inline (matplotlib's), loads nothing and,
# shown by <img>, runs nothing.
_SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _locale() -> str:
    return str(g.get("console_locale", i18n.DEFAULT))


def _gettext(text: str, **variables: Any) -> str:
    locale = _locale() if has_request_context() else i18n.DEFAULT
    translated = i18n.translations(locale).gettext(text)
    return translated % variables if variables else translated


def _ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    locale = _locale() if has_request_context() else i18n.DEFAULT
    translated = i18n.translations(locale).ngettext(singular, plural, n)
    return translated % {"num": n, **variables}


class ConsoleSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, opened for the console's paths only.

    Nothing else uses a session: an API request gets Flask's null session, which is
    never saved, instead of a cookie looked for, its signature checked and a
    serializer made on every request.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if path == _PREFIX or path.startswith(_PREFIX_SLASH):
            return super().open_session(app, request)
        return None  # Flask's null session


_PREFIX = str(bp.url_prefix)
_PREFIX_SLASH = _PREFIX + "/"


def init_app(app: Flask) -> None:
    node: Node = app.extensions["gateway.node"]
    cipher = node.store.cipher
    if cipher is None:  # every node has one (gateway.crypto.atrest); a bare Store in a test may not
        raise RuntimeError("the console needs the node's storage key")
    app.secret_key = cipher.derive_secret("gateway console session v1")
    app.session_interface = ConsoleSessions()
    secure = node.config.mode == "production" or node.config.tls.cert_file is not None
    app.config.update(
        SESSION_COOKIE_NAME="__Host-gateway-console" if secure else "gateway-console",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=LIFETIME,
    )
    app.extensions["gateway.sign_in_throttle"] = Throttle(node, scope="console", rate=SIGN_IN_RATE)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True
    )
    app.register_blueprint(bp)


# -- per request -----------------------------------------------------------------------------


@bp.before_request
def _before() -> BaseResponse | None:
    wanted = request.args.get("lang")
    if wanted in i18n.LOCALES:
        session["lang"] = wanted
    chosen = session.get("lang")
    if chosen not in i18n.LOCALES:
        chosen = request.accept_languages.best_match(i18n.LOCALES, default=i18n.DEFAULT)
    g.console_locale = chosen
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, str(session.get("csrf", ""))):
            abort(400, description="csrf")
    g.auditor = _signed_in()
    if g.auditor is None and request.endpoint not in {"console.sign_in", "console.static"}:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("console.sign_in", next=target))
    return None


@bp.after_request
def _after(response: Response) -> Response:
    chart = request.endpoint == "console.chart" and response.status_code == 200
    response.headers["Content-Security-Policy"] = _SVG_CSP if chart else _CSP
    response.headers["Content-Language"] = _locale()
    response.vary.add("Cookie")
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


def _signed_in() -> ClientConfig | None:
    """The auditor of this request's session, if its row on the server says it is valid."""
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        return None
    node = _node()
    found = console_sessions.check(node, session_id)  # gone (signed out, ended), idle or too old
    who: ClientConfig | None = None
    if found is not None:
        try:
            who = node.client_by_digest(found.token_sha256)
        except Unauthorized:  # revoked, expired, rotated, or removed from the node config
            who = None
        if who is not None and (who.id != found.client_id or "auditor" not in who.roles):
            who = None
        if who is None:
            console_sessions.end(node, session_id)
    if who is None:
        _forget()
        session["expired"] = True  # said once, on the sign-in page
    return who


def _forget() -> None:
    lang = session.get("lang")
    session.clear()
    if lang in i18n.LOCALES:
        session["lang"] = lang


def _csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _lang_url(code: str) -> str:
    args = request.args.to_dict()
    args["lang"] = code
    return f"{request.path}?{urlencode(args)}"


def _page_url(page: int) -> str:
    args = request.args.to_dict()
    args.pop("lang", None)
    args["page"] = str(page)
    return f"{request.path}?{urlencode(args)}"


@bp.app_context_processor
def _context() -> dict[str, Any]:
    if not has_request_context() or request.blueprint != "console":
        return {}
    locale = _locale()
    node = _node()
    return {
        "locale": locale,
        "locales": i18n.LOCALES,
        "csrf_token": _csrf_token,
        "lang_url": _lang_url,
        "page_url": _page_url,
        "fmt_time": lambda stamp: i18n.format_time(stamp, locale),
        "fmt_wib": lambda stamp: i18n.format_wib(stamp, locale),
        "fmt_date": lambda day: i18n.format_date(day, locale),
        "fmt_month": lambda month: i18n.format_month(month, locale),
        "fmt_share": lambda value: i18n.format_share(value, locale),
        "fmt_num": lambda value: i18n.format_number(value, locale),
        "auditor": g.get("auditor"),
        "party": node.config.party,
        "parties": node.config.agreement.parties,
    }


def _safe_next(target: str | None) -> str:
    """Only a path of this console: nothing that leaves it (open redirects)."""
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return url_for("console.exchanges")


# -- sign-in -----------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def sign_in() -> BaseResponse | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    if request.method == "GET":
        if g.auditor is not None:
            return redirect(url_for("console.exchanges"))
        expired = bool(session.pop("expired", False))
        return render_template("console/login.html", error=None, expired=expired)
    throttle: Throttle = current_app.extensions["gateway.sign_in_throttle"]
    source = throttle.source(request.remote_addr)
    wait = throttle.retry_after(source)
    if wait is not None:  # before the token is looked at
        log.warning("console: failed sign-ins over %s from one address", SIGN_IN_RATE)
        refuse("console_throttled")
        page = render_template("console/login.html", error="rate_limited", expired=False)
        return page, 429, {"Retry-After": str(wait)}
    token = request.form.get("token", "").strip()
    try:
        who = _node().authenticate(f"Bearer {token}") if token else None
    except Unauthorized:
        who = None
    if who is None or "auditor" not in who.roles:
        log.info("console: a sign-in was refused")
        refuse("console_sign_in", failure=(throttle, source))
        return render_template("console/login.html", error="invalid", expired=False), 401
    earlier = session.get("sid")
    if isinstance(earlier, str):  # signed in already in this browser: that session ends
        console_sessions.end(_node(), earlier)
    _forget()
    session.permanent = True
    session.update(
        # A new id at every sign-in: an id known before it (session fixation) is worthless.
        sid=console_sessions.start(
            _node(),
            client_id=who.id,
            token_sha256=hashlib.sha256(token.encode("utf-8")).hexdigest(),
        ),
        csrf=secrets.token_urlsafe(32),
    )
    log.info("console: %s signed in", who.id)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def sign_out() -> BaseResponse:
    who = g.auditor
    session_id = session.get("sid")
    if isinstance(session_id, str):
        console_sessions.end(_node(), session_id)  # a copy of the cookie is refused from now on
    _forget()
    if who is not None:
        log.info("console: %s signed out", who.id)
    return redirect(url_for("console.sign_in"))


# -- pages -----------------------------------------------------------------------------------


@bp.get("/")
def index() -> BaseResponse:
    return redirect(url_for("console.exchanges"))


def _filters() -> tuple[evidence.ExchangeFilter, dict[str, str], list[str], dict[str, Any]]:
    """The exchange filters asked for, those that were not valid, and the choices."""
    args = {
        k: request.args.get(k, "").strip()
        for k in ("dataset", "direction", "peer", "status", "from", "to")
    }
    errors: list[str] = []
    node = _node()
    choices: dict[str, tuple[str, ...]] = {
        "dataset": tuple(evidence.dataset_names(node)),
        "direction": evidence.DIRECTIONS,
        "peer": tuple(p for p in node.config.agreement.parties if p != node.party_id),
        "status": evidence.STATUSES,
    }
    for name, allowed in choices.items():
        if args[name] and args[name] not in allowed:
            errors.append(name)
            args[name] = ""
    days: dict[str, str | None] = {"from": None, "to": None}
    for name in days:
        try:
            days[name] = evidence.parse_day(args[name], end=name == "to") if args[name] else None
        except ValueError:
            errors.append(name)
            args[name] = ""
    wanted = evidence.ExchangeFilter(
        dataset=args["dataset"] or None,
        direction=args["direction"] or None,
        peer=args["peer"] or None,
        status=args["status"] or None,
        since=days["from"],
        until=days["to"],
    )
    return wanted, args, errors, choices


@bp.get("/exchanges")
def exchanges() -> tuple[str, int]:
    wanted, args, errors, choices = _filters()
    raw_page = request.args.get("page", "1")
    # isascii: str.isdigit() is true of "²", which int() refuses.
    fine = raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 7
    found = evidence.exchanges(_node(), wanted, page=int(raw_page) if fine else 1,
                               per_page=PER_PAGE)
    return render_template(
        "console/exchanges.html",
        found=found,
        args=args,
        errors=errors,
        datasets=choices["dataset"],
        peers=choices["peer"],
        directions=choices["direction"],
        statuses=choices["status"],
    ), (400 if errors else 200)


def _batch_id(batch_id: str) -> str:
    if len(batch_id) != 36 or not all(c in "0123456789abcdef-" for c in batch_id):
        raise NotFound("no such batch", path="batch_id")
    return batch_id


@bp.get("/batches/<batch_id>")
def batch(batch_id: str) -> str:
    requester = current_app.extensions.get("gateway.peer_requester")
    view = evidence.batch_view(_node(), _batch_id(batch_id), request=requester)
    return render_template("console/batch.html", view=view)


@bp.get("/batches/<batch_id>/bundle.json")
def bundle(batch_id: str) -> Response:
    """The evidence bundle of the batch, as ``gateway audit export`` writes it."""
    try:
        found = bundles.export_bundle(_node(), _batch_id(batch_id))
    except LookupError:
        raise NotFound("no such batch", path="batch_id") from None
    log.info("console: %s downloaded the evidence of batch %s", g.auditor.id, batch_id)
    response = Response(json.dumps(found, indent=2) + "\n", content_type="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="bundle-{batch_id}.json"'
    return response


@bp.get("/log")
def audit_log() -> str:
    return render_template("console/log.html", view=evidence.log_view(_node()))


# -- service levels --------------------------------------------------------------------------


def _service_filters() -> tuple[service_levels.Filters, reports.Today]:
    at = reports.today(_node())
    return service_levels.parse_filters(request.args.to_dict(), at), at


@bp.get("/service-levels")
def service_levels_page() -> str:
    wanted, at = _service_filters()
    return render_template(
        "console/service_levels.html",
        view=service_levels.overview(_node(), wanted, at),
        charts=service_levels.CHARTS,
        units=service_levels.unit_names(),
        periods=service_levels.period_choices(at, wanted.period),
    )


@bp.get("/service-levels/chart/<name>.svg")
def chart(name: str) -> Response:
    """One chart of the service-levels page, as an SVG image, for the page's filters."""
    if name not in service_levels.CHARTS:
        raise NotFound("no such chart", path="name")
    wanted, at = _service_filters()
    text = get_template_attribute("console/_macros.html", "chart_text")

    def said(part: str) -> str:
        return html.unescape(str(text(name, part))).strip()

    svg = service_levels.chart(
        name,
        service_levels.figures(_node(), wanted, at),
        wanted,
        labels=charts.Labels(said("title"), said("x"), said("y"), said("empty")),
        month_label=lambda month: i18n.format_month(month, _locale()),
    )
    return Response(svg, mimetype="image/svg+xml")


@bp.get("/cases/<path:case_number>")
def case(case_number: str) -> str:
    if not 0 < len(case_number) <= 64:
        raise NotFound("no such case", path="case_number")
    found = reports.case_detail(_node(), case_number)
    return render_template("console/case.html", case=found, units=service_levels.unit_names())


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> tuple[str, int]:
    what = "case" if request.endpoint == "console.case" else "batch"
    page = render_template("console/error.html", status=404, reason="not_found", what=what)
    return page, 404


@bp.errorhandler(BadRequest)
def _bad_filter(exc: BadRequest) -> tuple[str, int]:
    """A filter that is not valid: the error page names it and says what it may be."""
    value = request.args.get(exc.path or "", "")[:40]
    page = render_template(
        "console/error.html", status=400, reason="bad_filter", field=exc.path, value=value
    )
    return page, 400


@bp.errorhandler(400)
def _bad_request(exc: Exception) -> tuple[str, int]:
    return render_template("console/error.html", status=400, reason="bad_request"), 400
