"""Statement fingerprints (lrs/statements/comparison.py), following the xAPI statement comparison rules:
1.0.3 §2.3.1 "Statement Immutability" and 2.0 (IEEE 9274.1.1) §4.2 "Statement Immutability"."""

from __future__ import annotations

import copy
import json
import re

import pytest

from lrs.statements.comparison import comparable, fingerprint
from tests.fixtures.statements import FULL, FULL_2_0, MINIMAL, OTHER_ID, REGISTRATION, SUBSTATEMENT, VALID_IN_BOTH, make


def same(a, b):
    return fingerprint(a) == fingerprint(b)


def test_fingerprint_is_a_sha256_hex_digest():
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint(FULL))


@pytest.mark.parametrize("name", sorted(VALID_IN_BOTH))
def test_fingerprint_is_stable_for_a_copy(name):
    assert same(VALID_IN_BOTH[name], copy.deepcopy(VALID_IN_BOTH[name]))


def test_fingerprint_does_not_modify_the_statement():
    statement = make(FULL_2_0)
    fingerprint(statement)
    assert statement == FULL_2_0


def test_json_key_order_does_not_matter():
    reordered = json.loads(json.dumps(FULL, sort_keys=True))
    reversed_keys = {key: FULL[key] for key in reversed(list(FULL))}
    assert same(FULL, reordered)
    assert same(FULL, reversed_keys)


# --- properties the LRS assigns or that are not part of the statement --------------------------


@pytest.mark.parametrize("prop", ["id", "authority", "stored", "timestamp", "version"])
def test_lrs_assigned_property_is_ignored(prop):
    assert same(FULL, make(FULL, **{prop: None}))


def test_lrs_assigned_values_are_ignored():
    changed = make(
        FULL,
        id=OTHER_ID,
        stored="2030-01-01T00:00:00Z",
        timestamp="2001-01-01T00:00:00Z",
        version="1.0.3",
        authority={"mbox": "mailto:someone-else@example.com"},
    )
    assert same(FULL, changed)


def test_attachments_are_ignored():
    assert same(FULL, make(FULL, attachments=None))


def test_substatement_attachments_are_ignored():
    changed = make(SUBSTATEMENT)
    del changed["object"]["attachments"]
    assert same(SUBSTATEMENT, changed)


def test_verb_display_is_ignored():
    assert same(FULL, make(FULL, verb={"id": FULL["verb"]["id"], "display": {"fi": "vastasi"}}))


def test_object_activity_definition_is_ignored():
    changed = make(FULL)
    changed["object"]["definition"]["name"] = {"en-US": "Renamed"}
    assert same(FULL, changed)
    del changed["object"]["definition"]
    assert same(FULL, changed)


def test_context_activity_definition_is_ignored():
    changed = make(FULL)
    changed["context"]["contextActivities"]["parent"][0]["definition"] = {"name": {"en-US": "Assessment"}}
    assert same(FULL, changed)


# --- serialisations that mean the same -----------------------------------------------------


def test_group_member_order_is_ignored():
    changed = make(FULL)
    changed["context"]["team"]["member"].reverse()
    assert same(FULL, changed)


def test_single_context_activity_equals_an_array_of_one():
    changed = make(FULL)
    changed["context"]["contextActivities"]["other"] = [changed["context"]["contextActivities"]["other"]]
    assert same(FULL, changed)


def test_omitted_object_types_equal_the_defaults():
    explicit = make(
        MINIMAL,
        actor={"objectType": "Agent", **MINIMAL["actor"]},
        object={"objectType": "Activity", **MINIMAL["object"]},
    )
    assert same(MINIMAL, explicit)


def test_integral_float_equals_integer():
    changed = make(FULL)
    changed["result"]["score"] = {"scaled": 0.5, "raw": 50.0, "min": 0.0, "max": 100.0}
    assert same(FULL, changed)


def test_duration_precision_beyond_hundredths_is_ignored():
    assert same(make(result={"duration": "P1DT12H36M0.12S"}), make(result={"duration": "P1DT12H36M0.1237S"}))


def test_duration_is_otherwise_compared_as_a_string():
    assert not same(make(result={"duration": "PT1H"}), make(result={"duration": "PT60M"}))
    assert not same(make(result={"duration": "PT1.12S"}), make(result={"duration": "PT1.13S"}))


def test_substatement_timestamp_is_compared_as_a_point_in_time():
    utc = make(SUBSTATEMENT)
    helsinki = make(SUBSTATEMENT)
    helsinki["object"]["timestamp"] = "2030-01-01T11:00:00.0004+02:00"
    assert same(utc, helsinki)


def test_substatement_timestamp_at_another_moment_differs():
    later = make(SUBSTATEMENT)
    later["object"]["timestamp"] = "2030-01-01T09:00:01Z"
    assert not same(SUBSTATEMENT, later)


# --- case ---------------------------------------------------------------------------------


def test_uuid_case_is_ignored():
    upper = make(FULL)
    upper["context"]["registration"] = REGISTRATION.upper()
    upper["context"]["statement"]["id"] = OTHER_ID.upper()
    assert same(FULL, upper)
    statement_ref = make(object={"objectType": "StatementRef", "id": OTHER_ID})
    assert same(statement_ref, make(object={"objectType": "StatementRef", "id": OTHER_ID.upper()}))


def test_mbox_domain_case_is_ignored():
    assert same(make(actor={"mbox": "mailto:aino@example.com"}), make(actor={"mbox": "mailto:aino@EXAMPLE.com"}))


def test_mbox_local_part_case_matters():
    assert not same(make(actor={"mbox": "mailto:aino@example.com"}), make(actor={"mbox": "mailto:Aino@example.com"}))


def test_mbox_sha1sum_case_is_ignored():
    sha1 = "cd9b00a5611f94eaa7b1661edab976068e364975"
    assert same(make(actor={"mbox_sha1sum": sha1}), make(actor={"mbox_sha1sum": sha1.upper()}))


def test_iri_scheme_and_host_case_is_ignored():
    lower = make(verb={"id": "http://example.com/verbs/Coached%2fx"}, object={"id": "https://polku.example/a"})
    upper = make(verb={"id": "HTTP://Example.COM/verbs/Coached%2Fx"}, object={"id": "https://POLKU.example/a"})
    assert same(lower, upper)


def test_iri_path_case_matters():
    assert not same(make(object={"id": "https://polku.example/a"}), make(object={"id": "https://polku.example/A"}))


def test_extension_key_host_case_is_ignored_but_value_case_matters():
    base = make(result={"extensions": {"https://polku.example/ext": "Value"}})
    assert same(base, make(result={"extensions": {"https://POLKU.EXAMPLE/ext": "Value"}}))
    assert not same(base, make(result={"extensions": {"https://polku.example/ext": "value"}}))


def test_context_language_case_is_ignored():
    assert same(make(context={"language": "fi-FI"}), make(context={"language": "fi-fi"}))


def test_free_text_case_matters():
    assert not same(make(result={"response": "Yes"}), make(result={"response": "yes"}))


def test_account_name_case_matters():
    account = {"homePage": "https://lms.example.com", "name": "u-1"}
    assert not same(make(actor={"account": account}), make(actor={"account": {**account, "name": "U-1"}}))


# --- real differences ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"actor": {"mbox": "mailto:someone@example.com"}},
        {"verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"}},
        {"object": {"id": "https://polku.example/activities/coaching-day-2"}},
        {"result": {"completion": True}},
        {"context": {"registration": REGISTRATION}},
    ],
)
def test_a_change_to_the_statement_changes_the_fingerprint(change):
    assert not same(MINIMAL, make(MINIMAL, **change))


def test_group_member_change_changes_the_fingerprint():
    changed = make(FULL)
    changed["context"]["team"]["member"][0]["mbox"] = "mailto:other@example.com"
    assert not same(FULL, changed)


def test_context_activity_order_matters():
    changed = make(FULL)
    parents = changed["context"]["contextActivities"]["parent"]
    parents.append({"id": "https://polku.example/activities/other"})
    reordered = make(changed)
    reordered["context"]["contextActivities"]["parent"].reverse()
    assert not same(changed, reordered)


def test_comparable_form_leaves_out_ignored_properties():
    form = comparable(FULL)
    assert set(form) == {"actor", "verb", "object", "result", "context"}
    assert form["verb"] == {"id": "http://adlnet.gov/expapi/verbs/answered"}
    assert "definition" not in form["object"]
