"""``GET /api/v1/agents/export?agent=<Agent JSON>[&format=zip]`` (scope ``admin``): everything
Polku holds about one person, as one JSON document or as a ZIP of that document and the
attachment contents (:mod:`lrs.personal_data.export` builds both). Both are sent as a download
(``Content-Disposition: attachment``) and never cached. Not xAPI: no version header is needed.
"""

from __future__ import annotations

import tempfile

from flask import Blueprint, Response, request, send_file

from lrs.personal_data import export
from lrs.http.auth import require
from lrs.errors import BadRequest
from lrs.http.current import services

blueprint = Blueprint("export", __name__)

#: A ZIP up to this size is built in memory; a larger one spills to a temporary file.
IN_MEMORY_BYTES = 16 * 1024 * 1024


@blueprint.get("/agents/export")
@require("admin")
def export_agent():
    unknown = sorted(set(request.args) - {"agent", "format"})
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}; this resource takes agent and format")
    fmt = request.args.get("format", "json")
    if fmt not in export.FORMATS:
        raise BadRequest(f"format: must be one of {', '.join(export.FORMATS)}")
    found = export.build(services(), request.args.get("agent"))
    if fmt == "json":
        response = Response(export.to_json(found.document), mimetype="application/json")
        response.headers["Content-Disposition"] = f'attachment; filename="{found.filename}.json"'
    else:
        spool = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY_BYTES)
        export.write_zip(found, services(), spool)
        spool.seek(0)
        response = send_file(spool, mimetype="application/zip", as_attachment=True,  # closes the file when sent
                             download_name=f"{found.filename}.zip", etag=False, max_age=0)
    response.headers["Cache-Control"] = "no-store"  # personal data: no copy in a cache on the way
    return response
