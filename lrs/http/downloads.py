"""A cohort view as a CSV download: what the analytics API answers with ``?format=csv`` and what the
dashboard's download links give, byte for byte the same (:func:`lrs.cohorts.views.csv_text`)."""

from __future__ import annotations

from typing import Any

from flask import Response

from lrs.cohorts import views


def csv_response(tab: str, view: dict[str, Any]) -> Response:
    response = Response(views.csv_text(view, tab), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{view["cohort"]}-{tab}.csv"'
    return response
