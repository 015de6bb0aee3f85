"""Credentials with a life cycle (issue 10): revoke, rotate, expiry, last use, unique names, the
``/api/v1/credentials`` API (scope admin) and ``polku credentials``. Revoke and rotate are tested
over real HTTP against two gunicorn workers: a credential revoked in one process is refused by
every process from the next request on."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from click.testing import CliRunner

from events import utc_iso
from lrs.app import create_app
from lrs.cli import main
from lrs.stores.credentials import CredentialError, parse_expiry
from lrs.config.settings import Settings
from tests.fixtures.credentials import basic
from tests.fixtures.databases import MASTER_KEY

V2 = {"X-Experience-API-Version": "2.0.0"}


@pytest.fixture
def app(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'credentials.sqlite3'}", run_projections=True))
    yield app
    app.extensions["polku"].close()


@pytest.fixture
def store(app):
    return app.extensions["polku"].credentials


@pytest.fixture
def admin(app, store):
    """A test client authenticated with an admin credential."""
    credential, secret = store.create("operator", {"admin"})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = basic(credential.key, secret)["Authorization"]
    return client


def about_status(client, key: str, secret: str) -> int:
    return client.get("/xapi/statements", headers=basic(key, secret) | V2).status_code


# ---- the API --------------------------------------------------------------------------------

def test_post_credentials_creates_one_and_shows_its_secret_only_then(app, admin):
    created = admin.post("/api/v1/credentials", json={"name": "lms", "scopes": ["statements/write", "statements/read"]})
    assert created.status_code == 201
    body = created.json
    assert body["name"] == "lms" and body["scopes"] == ["statements/read", "statements/write"]
    assert body["revoked"] is None and body["expires"] is None and body["last_used"] is None
    assert about_status(app.test_client(), body["key"], body["secret"]) == 200
    listed = admin.get("/api/v1/credentials")
    assert listed.status_code == 200
    assert body["key"] in [c["key"] for c in listed.json]
    assert body["secret"] not in listed.text and all("secret" not in c for c in listed.json)
    one = admin.get(created.headers["Location"])
    assert one.status_code == 200 and "secret" not in one.json


def test_delete_credential_revokes_it_and_it_is_401_from_then_on(app, admin):
    body = admin.post("/api/v1/credentials", json={"name": "leaked", "scopes": ["all"]}).json
    revoked = admin.delete(f"/api/v1/credentials/{body['key']}")
    assert revoked.status_code == 200 and revoked.json["revoked"] is not None
    assert about_status(app.test_client(), body["key"], body["secret"]) == 401
    listed = {c["key"]: c for c in admin.get("/api/v1/credentials").json}
    assert listed[body["key"]]["revoked"] == revoked.json["revoked"], "a revoked credential is still listed, as revoked"
    assert admin.post(f"/api/v1/credentials/{body['key']}/rotate").status_code == 409, "a revoked credential stays revoked"


def test_rotate_gives_a_new_secret_and_the_old_one_stops_working(app, admin):
    body = admin.post("/api/v1/credentials", json={"name": "lms", "scopes": ["all"]}).json
    rotated = admin.post(f"/api/v1/credentials/{body['key']}/rotate")
    assert rotated.status_code == 200
    assert rotated.json["key"] == body["key"] and rotated.json["secret"] != body["secret"]
    client = app.test_client()
    assert about_status(client, body["key"], body["secret"]) == 401
    assert about_status(client, body["key"], rotated.json["secret"]) == 200


def test_unknown_credential_is_404_for_revoke_rotate_and_get(admin):
    assert admin.delete("/api/v1/credentials/nope").status_code == 404
    assert admin.post("/api/v1/credentials/nope/rotate").status_code == 404
    assert admin.get("/api/v1/credentials/nope").status_code == 404


def test_a_second_credential_with_a_name_in_use_is_409_and_a_revoked_name_is_free(admin):
    first = admin.post("/api/v1/credentials", json={"name": "lms", "scopes": ["all"]}).json
    again = admin.post("/api/v1/credentials", json={"name": "lms", "scopes": ["all"]})
    assert again.status_code == 409 and "lms" in again.json["error"]["message"]
    admin.delete(f"/api/v1/credentials/{first['key']}")
    assert admin.post("/api/v1/credentials", json={"name": "lms", "scopes": ["all"]}).status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({"scopes": ["all"]}, "name"),
        ({"name": "x", "scopes": ["everything"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["all"], "expires": "2000-01-01"}, "expires"),
        ({"name": "x", "scopes": ["all"], "expires": "soon"}, "expires"),
        ({"name": "x", "scopes": ["all"], "secret": "mine"}, "secret"),
    ],
)
def test_an_invalid_credential_body_is_400_naming_the_field(admin, body, field):
    response = admin.post("/api/v1/credentials", json=body)
    assert response.status_code == 400
    assert response.json["error"]["message"].startswith(field + ":")


def test_the_credentials_api_needs_the_admin_scope(app, store):
    credential, secret = store.create("analyst", {"analytics"})
    client = app.test_client()
    assert client.get("/api/v1/credentials", headers=basic(credential.key, secret)).status_code == 403
    assert client.post("/api/v1/credentials", json={"name": "x", "scopes": ["all"]}, headers=basic(credential.key, secret)).status_code == 403
    assert client.get("/api/v1/credentials").status_code == 401


def test_a_credential_with_expires_works_until_then_and_an_expired_one_is_401(app, admin, store):
    later = admin.post("/api/v1/credentials", json={"name": "trial", "scopes": ["all"], "expires": "30d"}).json
    assert later["expires"] > utc_iso(datetime.now(timezone.utc) + timedelta(days=29))
    client = app.test_client()
    assert about_status(client, later["key"], later["secret"]) == 200
    expired, secret = store.create("expired", {"all"}, expires=utc_iso(datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert about_status(client, expired.key, secret) == 401


def test_the_last_use_is_recorded_and_not_written_again_within_a_minute(app, store):
    credential, secret = store.create("lms", {"all"})
    client = app.test_client()
    about_status(client, credential.key, secret)
    deadline = time.monotonic() + 30
    while (first := store.get(credential.key).last_used) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # written in the background: the request does not wait for it
    assert first is not None
    for _ in range(3):
        about_status(client, credential.key, secret)
    for writer in [t for t in threading.enumerate() if t.name == "polku-last-used"]:
        writer.join(timeout=30)  # any write those requests started has landed
    assert store.get(credential.key).last_used == first, "never a write per request"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("90d", "2026-04-01T12:00:00.000000Z"),
        ("12h", "2026-01-02T00:00:00.000000Z"),
        ("2w", "2026-01-15T12:00:00.000000Z"),
        ("2026-02-01", "2026-02-01T00:00:00.000000Z"),
        ("2026-01-02T09:00:00+02:00", "2026-01-02T07:00:00.000000Z"),
    ],
)
def test_expires_is_a_duration_a_date_or_a_timestamp(text, expected):
    assert parse_expiry(text, datetime(2026, 1, 1, 12, tzinfo=timezone.utc)) == expected


@pytest.mark.parametrize("text", ["2025-12-31", "tomorrow", "2026-13-01", "-5d"])
def test_expires_in_the_past_or_unreadable_is_refused(text):
    with pytest.raises(CredentialError) as refused:
        parse_expiry(text, datetime(2026, 1, 1, 12, tzinfo=timezone.utc))
    assert refused.value.field == "expires"


# ---- the command --------------------------------------------------------------------------

def _polku(database_url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"POLKU_DATABASE_URL": database_url, "POLKU_MASTER_KEY": MASTER_KEY})


def test_credentials_list_of_none_says_so(sqlite_url):
    result = _polku(sqlite_url, "credentials", "list")
    assert result.exit_code == 0
    assert "no credentials" in result.output


def test_credentials_create_with_a_name_in_use_is_a_clear_error(sqlite_url):
    assert _polku(sqlite_url, "credentials", "create", "--name", "lms", "--scopes", "all").exit_code == 0
    again = _polku(sqlite_url, "credentials", "create", "--name", "lms", "--scopes", "all")
    assert again.exit_code != 0
    assert "'lms' exists already" in again.output


def test_credentials_list_shows_name_key_scopes_created_expires_last_used_and_revoked(sqlite_url):
    out = _polku(sqlite_url, "credentials", "create", "--name", "lms", "--scopes", "statements/write", "--expires", "2099-01-01").output
    key = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("key:"))
    assert "expires: 2099-01-01T00:00:00" in out
    assert _polku(sqlite_url, "credentials", "revoke", key).exit_code == 0
    header, row = _polku(sqlite_url, "credentials", "list").output.splitlines()
    assert header.split() == ["name", "key", "scopes", "created", "expires", "last", "used", "revoked"]
    cells = row.split()
    assert cells[:3] == ["lms", key, "statements/write"]
    assert cells[4] == "2099-01-01T00:00:00" and cells[5] == "never" and cells[6] != "no"
    assert "secret" not in row


def test_credentials_revoke_and_rotate_of_an_unknown_key_are_errors(sqlite_url):
    for command in ("revoke", "rotate"):
        result = _polku(sqlite_url, "credentials", command, "nope")
        assert result.exit_code != 0 and "no credential 'nope'" in result.output


# ---- across processes, over HTTP ----------------------------------------------------------

def _statuses(lrs, auth: tuple[str, str], n: int = 16) -> set[int]:
    """Status codes of ``n`` requests, each on a new connection (spread over the workers)."""
    return {requests.get(lrs.endpoint + "/statements", params={"limit": 1}, auth=auth, headers=V2, timeout=30).status_code
            for _ in range(n)}


def test_revoke_and_rotate_hold_at_once_in_every_one_of_two_workers(fresh_lrs):
    lrs = fresh_lrs("embedded", POLKU_WORKERS="2")
    revoked = lrs.create_credential("all", "to-revoke")
    rotated = lrs.create_credential("all", "to-rotate")
    assert _statuses(lrs, revoked) == {200} and _statuses(lrs, rotated) == {200}  # both workers have seen them
    lrs.cli("credentials", "revoke", revoked[0])
    assert _statuses(lrs, revoked) == {401}
    out = lrs.cli("credentials", "rotate", rotated[0]).stdout
    new_secret = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("secret:"))
    assert _statuses(lrs, rotated) == {401}
    assert _statuses(lrs, (rotated[0], new_secret)) == {200}
    # the same over the API, with the server's own admin credential
    api = f"http://127.0.0.1:{lrs.port}/api/v1/credentials"
    made = requests.post(api, json={"name": "via-api", "scopes": ["statements/read"]}, auth=lrs.auth, timeout=30).json()
    assert _statuses(lrs, (made["key"], made["secret"])) == {200}
    assert requests.delete(f"{api}/{made['key']}", auth=lrs.auth, timeout=30).status_code == 200
    assert _statuses(lrs, (made["key"], made["secret"])) == {401}


def test_a_new_secret_never_begins_with_a_dash_that_command_lines_take_for_an_option():
    from lrs.stores.credentials import new_secret

    made = [new_secret() for _ in range(3000)]  # with a plain token, about 47 of them would
    assert not [s for s in made if s.startswith("-")]
    assert len(set(made)) == len(made)
    assert all(len(s) == 43 and set(s) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") for s in made)
