"""The Statement Resource (xAPI 2.0.0 Communication 2.1; 1.0.3 Part Three 2.1).

PUT stores one statement under ``statementId``; POST stores one statement or an array, as
``application/json`` or, with attachment contents, ``multipart/mixed`` (:mod:`lrs.http.bodies`); GET
and HEAD return one statement by ``statementId`` / ``voidedStatementId`` or a page of a filtered
query (:mod:`lrs.statements.queries`), as JSON or, with ``attachments=true``, multipart/mixed
(:mod:`lrs.statements.attachments`). A page's ``more`` link carries the whole query, so any worker can serve
the next page, also after a restart. Every answer to a read, error or not, carries
``X-Experience-API-Consistent-Through``.

1.0.3 clients may also use the Alternate Request Syntax (:mod:`lrs.http.alternate`); 2.0.0 clients
may not. Writes go through :mod:`lrs.statements.commands`; reads come from the statement store.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from lrs.http import alternate, bodies
from lrs.statements import attachments, commands, formats, queries as statement_queries
from lrs.http.alternate import XapiRequest
from lrs.http.auth import authority_key_of, authorize
from lrs.errors import BadRequest, NotFound
from lrs.http.parameters import http_date
from lrs.http.current import services
from lrs.statements.queries import Single
from lrs.http.versioning import HEADER, negotiate
from schemas.versions import is_2

blueprint = Blueprint("statements", __name__)

CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
READS = ("GET", "HEAD")


@blueprint.before_request
def _version_and_watermark():
    if alternate.is_alternate(request):
        return  # the version and the credentials may travel in the form: see _alternate
    g.xapi_version = negotiate(request.headers.get(HEADER))
    if request.method in READS:
        _watermark()


@blueprint.after_request
def _consistent_through(response: Response) -> Response:
    if request.method in READS or "consistent_through" in g:
        response.headers[CONSISTENT_THROUGH] = g.get("consistent_through") or _watermark()
    return response


def _watermark() -> str:
    """Taken before reading, so that everything the answer may miss was recorded after it."""
    g.consistent_through = services().consistency.consistent_through("statements")
    return g.consistent_through


# ---- routes ----------------------------------------------------------------------------------

@blueprint.post("/statements")
def post_statements():
    if alternate.is_alternate(request):
        return _alternate()
    return _write(XapiRequest.of(request))


@blueprint.put("/statements")
def put_statement():
    return _write(XapiRequest.of(request))


@blueprint.get("/statements")
def get_statements():
    return _read(XapiRequest.of(request))


def _alternate():
    if is_2(negotiate(request.headers.get(HEADER) or "1.0.3")):
        raise BadRequest("the Alternate Request Syntax (a POST with a 'method' parameter) is not part of xAPI 2.0")
    req = alternate.unwrap(request)
    g.xapi_version = negotiate(req.headers.get(HEADER))
    if is_2(g.xapi_version):
        raise BadRequest("the Alternate Request Syntax (a POST with a 'method' parameter) is not part of xAPI 2.0")
    if req.method in READS:
        _watermark()
        return _read(req)
    if req.method in ("PUT", "POST"):
        return _write(req)
    raise BadRequest(f"method {req.method} is not supported by the Statement Resource")


# ---- writes ----------------------------------------------------------------------------------

def _write(req: XapiRequest) -> Response:
    """PUT (one statement, ``statementId`` required, 204) or POST (one or many, 200 with ids)."""
    credential = authorize(req.headers.get("Authorization"), "statements/write")
    version = g.xapi_version
    put = req.method == "PUT"
    allowed = {"statementId"} if put else set()
    unknown = sorted(set(req.args) - allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s) for {req.method} /statements: {', '.join(unknown)}")
    statement_id = statement_queries.statement_id_param(req.args) if put else None
    body = bodies.read_statements_body(req.body, req.content_type)
    document = body.statements
    if put:
        if isinstance(document, list):
            raise BadRequest("PUT takes one statement, not an array; POST an array instead")
        if isinstance(document, dict):
            if "id" in document and str(document["id"]).lower() != statement_id:
                raise BadRequest("id: does not match the statementId parameter")
            document = dict(document, id=document.get("id", statement_id))
    statements = commands.check(document, version, body.contents, services().settings.max_statements_per_request)
    ids = commands.store(services(), statements, credential, version, body.contents)
    return Response(status=204) if put else jsonify(ids)


# ---- reads -----------------------------------------------------------------------------------

def _read(req: XapiRequest) -> Response:
    credential = authorize(req.headers.get("Authorization"), "statements/read", "all/read", "statements/read/mine")
    # statements/read/mine (Communication 4.2): only the statements this credential wrote
    mine = None
    if not credential.allows("statements/read", "all/read"):
        mine = authority_key_of(credential)
    languages = formats.accepted_languages(req.headers.get("Accept-Language"))
    if "more" in req.args:
        query, after = statement_queries.from_more_token(req.args, services().signing_key, services().settings)
        return _page(query, after, languages, mine)
    parsed = statement_queries.parse(req.args, services().settings, g.xapi_version)
    if isinstance(parsed, Single):
        return _single(parsed, languages, mine)
    return _page(parsed, None, languages, mine)


def _single(lookup: Single, languages: list[str], mine: str | None) -> Response:
    statement = services().statements.get(lookup.statement_id, voided=lookup.voided, authority=mine)
    if statement is None:
        raise NotFound(f"no {'voided ' if lookup.voided else ''}statement with id {lookup.statement_id}")
    document = formats.apply(statement, lookup.format, languages)
    response = _respond(document, [statement], lookup.attachments)
    response.headers["Last-Modified"] = http_date(statement["stored"])
    return response


def _page(query: dict[str, Any], after: tuple[str, str] | None, languages: list[str], mine: str | None) -> Response:
    restricted = replace(statement_queries.statement_filter(query), authority=mine)  # from the credential, never the token
    # a page stops before its statements (and the contents it carries) pass the request size limit
    page = services().statements.query(
        restricted,
        query["limit"],
        after,
        max_bytes=services().settings.max_request_bytes,
        with_attachments=query.get("attachments", False),
    )
    more = ""
    if page.next_after:
        more = request.script_root + "/xapi/statements?more=" + statement_queries.more_token(query, page.next_after, services().signing_key)
    document = {"statements": [formats.apply(s, query["format"], languages) for s in page.statements], "more": more}
    return _respond(document, page.statements, query.get("attachments", False))


def _respond(document: Any, statements: list[dict[str, Any]], with_attachments: bool) -> Response:
    if not with_attachments:
        return jsonify(document)
    body, content_type = attachments.multipart_response(document, statements, services().blobs)
    return Response(body, headers={"Content-Type": content_type})


