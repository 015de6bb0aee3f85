"""The Document Resources: State, Activity Profile and Agent Profile (xAPI 2.0.0 Communication
2.2, 2.3, 2.6, 2.7 and 3.1 Concurrency; 1.0.3 Part Three the same sections).

One implementation serves the three; a :class:`Resource` says which parameters make up a key
and which scopes may read and write. ``GET`` with the document id returns the document as it
was sent (Content-Type and bytes unchanged) with its ETag and Last-Modified; without it, the
ids of the scope's documents (``since`` exclusive). ``PUT`` replaces, ``POST`` merges JSON
objects, ``DELETE`` removes one document, or for State every document of an agent and activity
(and registration). The rules live in :mod:`lrs.stores.documents`; this module parses requests.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask import Blueprint, Response, g, request

from lrs.stores import documents as rules
from lrs.http.auth import authority_key_of, require
from lrs.stores.documents import Body, Document, DocumentKey, Preconditions, Scope, Unconditional
from lrs.errors import Forbidden, NotFound
from lrs.http import parameters
from lrs.http.current import services
from lrs.http.versioning import HEADER, negotiate
from schemas.versions import is_2

blueprint = Blueprint("documents", __name__)


@dataclass(frozen=True)
class Resource:
    kind: str
    path: str
    id_param: str
    activity: bool
    agent: bool
    registration: bool
    #: Scopes (besides ``all``) that may read / write (Communication 4.2 scope table).
    read_scopes: tuple[str, ...]
    write_scopes: tuple[str, ...]

    @property
    def key_params(self) -> set[str]:
        names = {self.id_param}
        names |= {"activityId"} if self.activity else set()
        names |= {"agent"} if self.agent else set()
        names |= {"registration"} if self.registration else set()
        return names

    def unconditional_put(self, version: str) -> Unconditional:
        """What a PUT without If-Match or If-None-Match may do, by resource and version.

        State: 1.0.x overwrites (1.0.3 has no concurrency rule for State), 2.0.x creates only.
        Profiles: a precondition is required in both versions -- 400 naming the header for a new
        document (the ADL 1.0.3 conformance suite asks for it, XAPI-00273), 409 over an existing
        one (Communication 3.1)."""
        if self.kind == rules.STATE:
            return Unconditional.CREATE if is_2(version) else Unconditional.OVERWRITE
        return Unconditional.REFUSE


STATE = Resource(rules.STATE, "/activities/state", "stateId", True, True, True, ("state", "all/read"), ("state",))
ACTIVITY_PROFILE = Resource(
    rules.ACTIVITY_PROFILE, "/activities/profile", "profileId", True, False, False, ("profile", "all/read"), ("profile",)
)
AGENT_PROFILE = Resource(
    rules.AGENT_PROFILE, "/agents/profile", "profileId", False, True, False, ("profile", "all/read"), ("profile",)
)
RESOURCES = (STATE, ACTIVITY_PROFILE, AGENT_PROFILE)


@blueprint.before_request
def _version():
    g.xapi_version = negotiate(request.headers.get(HEADER))


# ---- the views -----------------------------------------------------------------------------

def read(resource: Resource) -> Response:
    parameters.only(resource.key_params | {"since"})
    scope, registration = _scope(resource)
    _demand_association(resource, scope, writing=False)
    document_id = parameters.text(resource.id_param, required=False)
    since = parameters.since()  # for a single document validated and ignored (XAPI-00192)
    store = services().documents
    if document_id is None:
        listed = store.ids(scope, registration, since)
        body = json.dumps([listed_id for listed_id, _ in listed], ensure_ascii=False).encode("utf-8")
        response = Response(body, status=200)
        response.headers["Content-Type"] = "application/json"
        response.headers["ETag"] = f'"{hashlib.sha1(body).hexdigest()}"'
        if listed:
            response.headers["Last-Modified"] = parameters.http_date(max(updated for _, updated in listed))
        return response
    document = store.get(DocumentKey(scope, document_id, registration or ""))
    if document is None:
        raise NotFound(f"no document with {resource.id_param} {document_id[:200]!r} here")
    unchanged = _entity_tags("If-None-Match", weak_matches=True)
    if unchanged is not None and ("*" in unchanged or document.etag.lower() in unchanged):
        response = Response(status=304)  # the client's copy is current (RFC 9110 13.1.2)
        response.headers.remove("Content-Type")
        _describe(response, document)
        return response
    response = Response(document.content, status=200)
    response.headers["Content-Type"] = document.content_type
    if _is_active(document.content_type):
        # a document is the client's bytes: a browser must never run them in Polku's origin
        response.headers["Content-Disposition"] = "attachment"
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    _describe(response, document)
    return response


#: Content types a browser would render or run rather than hand over as data.
_ACTIVE = ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml", "text/javascript",
           "application/javascript", "application/ecmascript", "text/ecmascript", "application/pdf", "multipart/")


def _is_active(content_type: str) -> bool:
    mimetype = (content_type or "").split(";")[0].strip().lower()
    return mimetype.startswith(_ACTIVE) or mimetype.endswith("+xml")


def write(resource: Resource) -> Response:
    parameters.only(resource.key_params)
    scope, registration = _scope(resource)
    _demand_association(resource, scope, writing=True)
    store = services().documents
    if request.method == "DELETE" and resource.kind == rules.STATE and resource.id_param not in request.args:
        store.delete_all(scope, registration)  # every document of the agent and activity (2.3.s5)
        return _no_content(None)
    key = DocumentKey(scope, parameters.text(resource.id_param), registration or "")
    pre = _preconditions()
    if request.method == "DELETE":
        store.change(key, rules.for_delete(pre))
        return _no_content(None)
    body = Body(request.get_data(cache=False), request.headers.get("Content-Type") or rules.DEFAULT_CONTENT_TYPE)
    if request.method == "PUT":
        decide = rules.for_put(body, pre, resource.unconditional_put(g.xapi_version))
    else:
        decide = rules.for_post(body, pre)
    return _no_content(store.change(key, decide))


def _register(resource: Resource) -> None:
    def read_view():
        return read(resource)

    def write_view():
        return write(resource)

    blueprint.add_url_rule(
        resource.path, endpoint=f"{resource.kind}_read", methods=["GET"], view_func=require(*resource.read_scopes)(read_view)
    )
    blueprint.add_url_rule(
        resource.path,
        endpoint=f"{resource.kind}_write",
        methods=["PUT", "POST", "DELETE"],
        view_func=require(*resource.write_scopes)(write_view),
    )


for _resource in RESOURCES:
    _register(_resource)


# ---- request parsing -----------------------------------------------------------------------

def _scope(resource: Resource) -> tuple[Scope, str | None]:
    activity_id = parameters.iri("activityId") if resource.activity else ""
    agent_key = parameters.agent("agent")[1] if resource.agent else ""
    registration = parameters.registration() if resource.registration else None
    return Scope(resource.kind, activity_id, agent_key), registration


def _demand_association(resource: Resource, scope: Scope, writing: bool) -> None:
    """The ``state`` and ``profile`` scopes reach only the agents associated with the credential
    (2.0.0 Communication 4.2, 1.0.3 Part Three 4.2: "limited to Activities and Actors associated
    with the current token to the extent it is possible to determine this relationship"). What
    Polku can determine: the agents that are the actor or object of statements this credential
    stored. ``all`` (and ``all/read`` for reads) reaches every agent. Activities are not limited:
    an Activity Profile describes the activity for every learner."""
    credential = g.credential
    unrestricted = "all" in credential.scopes if writing else credential.allows("all/read")
    if unrestricted or not resource.agent:
        return
    if not services().statements.names_agent(authority_key_of(credential), scope.agent):
        raise Forbidden(
            "agent: this credential reaches the documents only of agents that are the actor or object of "
            "statements it has stored; send such a statement first, or use a credential with scope all"
        )


def _preconditions() -> Preconditions:
    return Preconditions(_entity_tags("If-Match", weak_matches=False), _entity_tags("If-None-Match", weak_matches=True))


def _entity_tags(header: str, weak_matches: bool) -> frozenset[str] | None:
    """The tags of a precondition header, unquoted; None when the header is absent or blank.

    If-Match compares strongly, so a weak tag in it never matches (RFC 7232 2.3.2); If-None-Match
    compares weakly. Unquoted tags are accepted: some clients send the bare hash.
    """
    raw = request.headers.get(header)
    if raw is None or not raw.strip():
        return None
    tags = set()
    for part in raw.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            if not weak_matches:
                continue
            tag = tag[2:]
        tags.add(tag.strip('"').lower() if tag != "*" else "*")
    return frozenset(tags)


def _no_content(document: Document | None) -> Response:
    response = Response(status=204)
    response.headers.remove("Content-Type")
    _describe(response, document)
    return response


def _describe(response: Response, document: Document | None) -> None:
    if document is not None:
        response.headers["ETag"] = f'"{document.etag}"'
        response.headers["Last-Modified"] = parameters.http_date(document.updated)


