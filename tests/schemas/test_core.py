"""The pure xAPI core every layer shares (issue 9, "one pure xAPI core"): one agent identity,
one timestamp parser, one version rule, one ``agent`` parameter validator."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from projections.cohort_model import member_keys_of
from schemas.agents import AgentProblem, agent_key, person_key
from schemas.validation import agent_parameter
from schemas.timestamps import instant, parse_query_timestamp, parse_timestamp
from schemas.versions import is_2, rules_for


def test_an_mbox_names_one_agent_whatever_its_case_in_every_layer():
    upper, lower = {"mbox": "mailto:Aino.Aalto@Example.ORG"}, {"mbox": "mailto:aino.aalto@example.org"}
    assert agent_key(upper) == agent_key(lower)  # statement store, documents, Agents resource
    hashed = {"mbox_sha1sum": hashlib.sha1(b"mailto:aino.aalto@example.org").hexdigest().upper()}
    assert person_key(upper) == person_key(lower) == person_key(hashed)  # cohort views
    assert person_key(upper) in member_keys_of(lower)
    assert person_key(hashed) in member_keys_of(upper)


def test_accounts_and_openids_are_kept_as_sent():
    assert agent_key({"account": {"homePage": "https://lms.example", "name": "Aino"}}) == "account:https://lms.example|Aino"
    assert agent_key({"openid": "https://id.example/Aino"}) == person_key({"openid": "https://id.example/Aino"})
    assert agent_key({"name": "no identifier"}) is None


@pytest.mark.parametrize("raw, groups, field", [
    ('{"mbox": "aino@example.org"}', False, "agent.mbox"),
    ('{"objectType": "Group", "mbox": "mailto:g@example.org"}', False, "agent:"),
    ('{"objectType": "Group", "member": [{"mbox": "mailto:a@example.org"}]}', True, "anonymous"),
    ('{"mbox": "mailto:a@example.org", "openid": "https://id.example/a"}', False, "exactly one"),
    ('{"mbox": "mailto:a@example.org", "mbox": "mailto:b@example.org"}', False, "agent:"),
    ('{"account": {"homePage": "not an iri", "name": "a"}}', True, "agent.account.homePage"),
])
def test_the_agent_parameter_validator_names_the_field(raw, groups, field):
    with pytest.raises(AgentProblem) as problem:
        agent_parameter(raw, "2.0.0", groups=groups)
    assert str(problem.value).startswith(field) or field in str(problem.value)


def test_the_agent_parameter_validator_gives_the_one_key():
    agent, key = agent_parameter('{"mbox": "mailto:Aino@Example.org"}', "1.0.3")
    assert agent == {"mbox": "mailto:Aino@Example.org"} and key == agent_key({"mbox": "mailto:aino@example.org"})
    group = '{"objectType": "Group", "account": {"homePage": "https://lms.example", "name": "team"}}'
    assert agent_parameter(group, "2.0.0", groups=True)[1] == "account:https://lms.example|team"


@pytest.mark.parametrize("value, utc", [
    ("2026-01-31T08:00:00Z", datetime(2026, 1, 31, 8, tzinfo=timezone.utc)),
    ("2026-01-31T10:00:00.123456789+02:00", datetime(2026, 1, 31, 8, 0, 0, 123456, tzinfo=timezone.utc)),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=timezone.utc)),
])
def test_one_parser_gives_the_utc_instant(value, utc):
    assert parse_timestamp(value, "2.0") == utc == instant(value)


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2026-01-31T08:00:00-00:00",
                                   "2026-02-30T08:00:00Z", "2026-01-31T08:00:00", "yesterday"])
def test_a_timestamp_outside_the_years_1_to_9999_or_without_a_zone_is_no_timestamp(value):
    assert parse_timestamp(value, "2.0") is None and parse_timestamp(value, "1.0") is None
    with pytest.raises(ValueError):
        instant(value)


def test_a_query_timestamp_without_a_zone_or_time_means_utc():
    assert parse_query_timestamp("2026-01-31T08:00:00") == datetime(2026, 1, 31, 8, tzinfo=timezone.utc)
    assert parse_query_timestamp("2026-01-31") == datetime(2026, 1, 31, tzinfo=timezone.utc)
    assert parse_query_timestamp("9999-12-31T23:59:59-01:00") is None


@pytest.mark.parametrize("version, rules", [("2.0.0", "2.0"), ("2.0", "2.0"), ("1.0.3", "1.0"), ("1.0.9", "1.0")])
def test_one_version_rule(version, rules):
    assert rules_for(version) == rules and is_2(version) == (rules == "2.0")
    with pytest.raises(ValueError):
        rules_for("3.0.0")
