"""Sealing personal parts of events (events/sealing.py) with per-person keys (events/keyring.py).

The keyring runs on SQLite here (its table made from the model); the rules are pure: sealed then
opened is the statement as sent; a person whose key is gone becomes the anonymous agent exactly
where :func:`schemas.personal.anonymise` puts it, so an erasure applied in place and a rebuild
from the sealed log agree.
"""

from __future__ import annotations

import copy
import json
import os

import pytest

from events import Event, Record
from events.keyring import BeingErased, Keyring, MasterKeyError, data_keys, parse_master_key
from events.sealing import (
    AGENT_ERASED, COHORT_DEFINED, STATEMENT_SHREDDED, STATEMENT_STORED, Opener, member_persons, open_event,
    persons_to_seal, seal_identity, seal_members, seal_statement,
)
from events.sql import make_engine
from schemas.agents import person_key
from schemas.personal import ANONYMOUS_AGENT, ANONYMOUS_GROUP, anonymise

AINO = {"objectType": "Agent", "name": "Aino", "mbox": "mailto:aino@example.org"}
ONNI = {"name": "Onni", "account": {"homePage": "https://workspace.example", "name": "onni"}}
EERO = {"mbox_sha1sum": "a" * 40}
TEAM = {"objectType": "Group", "name": "North", "account": {"homePage": "https://workspace.example", "name": "north"},
        "member": [ONNI, EERO]}


@pytest.fixture
def keyring():
    engine = make_engine("sqlite://")
    data_keys.metadata.create_all(engine)
    yield Keyring(engine, os.urandom(32))
    engine.dispose()


def full_statement() -> dict:
    """A statement with a person in every place sealing reaches."""
    return {
        "id": "6fbd600f-d17c-4c74-801a-2ec2e53231c7",
        "actor": AINO,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "SubStatement", "actor": ONNI, "verb": {"id": "http://example.org/coached"},
                   "object": EERO | {"objectType": "Agent"}, "context": {"instructor": AINO, "extensions": {"http://x/note": "kind words"}},
                   "result": {"response": "well"}},
        "result": {"success": True, "score": {"scaled": 0.9}, "response": "I learned to listen"},
        "context": {"instructor": ONNI, "team": TEAM, "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                    "contextAgents": [{"objectType": "contextAgent", "agent": EERO}],
                    "contextGroups": [{"objectType": "contextGroup", "group": {"objectType": "Group", "member": [AINO]}}],
                    "contextActivities": {"parent": [{"id": "http://example.org/programme"}]},
                    "extensions": {"http://example.org/mood": "tired"}},
        "timestamp": "2026-02-03T09:00:00.000Z",
        "stored": "2026-02-03T09:00:01.000000Z",
        "authority": {"objectType": "Agent", "account": {"homePage": "https://polku.invalid/credentials", "name": "lms"}},
    }


def sealed_event(keyring, statement: dict, fingerprint: str = "f" * 64) -> Event:
    keys = keyring.current_keys(persons_to_seal(statement))
    return Event(STATEMENT_STORED, "k", seal_statement(statement, fingerprint, keys))


def opened(keyring, *events: Event) -> list[Event]:
    return [r.event for r in Opener(keyring.keys).open([Record(0, i, e) for i, e in enumerate(events)])]


def test_a_sealed_statement_opens_to_exactly_the_statement_and_fingerprint_sent(keyring):
    statement = full_statement()
    [event] = opened(keyring, sealed_event(keyring, statement, "abc"))
    assert event.type == STATEMENT_STORED
    assert event.data == {"statement": statement, "fingerprint": "abc"}


def test_no_identifier_name_result_or_words_are_in_the_sealed_event(keyring):
    text = json.dumps(sealed_event(keyring, full_statement()).data)
    for clear in ("aino@example.org", "Aino", "onni", "Onni", "a" * 40, "North", "listen", "0.9", "tired", "kind words", "well"):
        assert clear not in text, clear
    for kept in ("http://adlnet.gov/expapi/verbs/completed", "http://example.org/programme", "ec531277", "2026-02-03T09:00:00.000Z"):
        assert kept in text, kept


def test_each_person_is_sealed_with_their_own_key(keyring):
    event = sealed_event(keyring, full_statement())
    refs = {part["ref"] for part in event.data["sealed"]}
    assert refs == {keyring.ref(p) for p in (person_key(AINO), person_key(ONNI), person_key(EERO), person_key(TEAM))}


def test_a_person_whose_key_is_gone_becomes_the_anonymous_agent_where_anonymise_puts_it(keyring):
    statement = full_statement() | {"actor": {"mbox": "mailto:stays@example.org"}}
    event = sealed_event(keyring, statement)
    with keyring._engine.begin() as conn:
        keyring.shred(conn, keyring.retire(conn, keyring.ref(person_key(ONNI))))
    [event] = opened(keyring, event)
    expected, changed = anonymise(statement, {person_key(ONNI)})
    assert changed and event.type == STATEMENT_STORED
    assert event.data["statement"] == expected
    assert event.data["statement"]["context"]["instructor"] == ANONYMOUS_AGENT
    assert event.data["statement"]["context"]["team"]["member"][0] == ANONYMOUS_AGENT


def test_a_statement_whose_actor_is_gone_opens_as_shredded_with_only_the_clear_skeleton(keyring):
    event = sealed_event(keyring, full_statement())
    with keyring._engine.begin() as conn:
        keyring.retire(conn, keyring.ref(person_key(AINO)))  # retired is enough: it no longer opens statements
    [event] = opened(keyring, event)
    assert event.type == STATEMENT_SHREDDED
    assert event.data["statement"]["actor"] == ANONYMOUS_AGENT
    assert "result" not in event.data["statement"] and "extensions" not in event.data["statement"]["context"]
    assert event.data["statement"]["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed"
    assert "Aino" not in json.dumps(event.data)


def test_an_erased_group_becomes_the_anonymous_group_and_keeps_its_members(keyring):
    statement = full_statement()
    event = sealed_event(keyring, statement)
    with keyring._engine.begin() as conn:
        keyring.shred(conn, keyring.retire(conn, keyring.ref(person_key(TEAM))))
    [opened_event] = opened(keyring, event)
    team = opened_event.data["statement"]["context"]["team"]
    assert {k: v for k, v in team.items() if k != "member"} == ANONYMOUS_GROUP
    assert team["member"] == [ONNI, EERO], "the members are theirs, not the group's"


def test_a_part_moved_into_another_statement_does_not_open(keyring):
    first, second = full_statement(), full_statement() | {"id": "0d2f9b5e-8f0c-4b43-9f43-6a0e0f1b1c11"}
    a, b = sealed_event(keyring, first), sealed_event(keyring, second)
    forged = copy.deepcopy(b.data)
    forged["sealed"] = a.data["sealed"]
    [event] = opened(keyring, Event(STATEMENT_STORED, "k", forged))
    assert event.type == STATEMENT_SHREDDED, "a part bound to another statement id is unreadable"


def test_cohort_members_are_sealed_each_with_their_key_and_an_erased_one_is_left_out(keyring):
    data = {"key": "north", "name": "North", "members": [AINO, ONNI]}
    event = Event(COHORT_DEFINED, "cohort:north", seal_members(data, keyring.current_keys(member_persons(data))))
    assert "aino" not in json.dumps(event.data) and event.data["members"] == [{"objectType": "Agent"}] * 2
    assert opened(keyring, event)[0].data == data
    with keyring._engine.begin() as conn:
        keyring.shred(conn, keyring.retire(conn, keyring.ref(person_key(AINO))))
    assert opened(keyring, event)[0].data == dict(data, members=[ONNI])


def test_a_retired_key_opens_only_the_erasure_event_and_a_deleted_one_nothing(keyring):
    person = person_key(AINO)
    key = keyring.current_keys([person])[person]
    statement = sealed_event(keyring, full_statement())
    with keyring._engine.begin() as conn:
        kids = keyring.retire(conn, keyring.ref(person))
    erased = Event(AGENT_ERASED, keyring.ref(person), seal_identity(keyring.ref(person), {"person": person}, key, kids))
    opened_erased, opened_statement = opened(keyring, erased, statement)
    assert opened_erased.data["identity"] == {"person": person} and opened_statement.type == STATEMENT_SHREDDED
    with keyring._engine.begin() as conn:
        keyring.shred(conn, kids)
    assert opened(keyring, erased)[0].data["identity"] is None


def test_after_an_erasure_the_person_gets_a_new_key_and_none_while_it_is_under_way(keyring):
    person = person_key(AINO)
    first = keyring.current_keys([person])[person]
    with keyring._engine.begin() as conn:
        kids = keyring.retire(conn, keyring.ref(person))
    with pytest.raises(BeingErased):
        keyring.current_keys([person])
    with keyring._engine.begin() as conn:
        keyring.shred(conn, kids)
    second = keyring.current_keys([person])[person]
    assert second.kid != first.kid and second.ref == first.ref


def test_events_sealed_before_have_clear_data_and_pass_unchanged(keyring):
    clear = Event(STATEMENT_STORED, "k", {"statement": full_statement(), "fingerprint": "x"})
    assert open_event(clear, {}) is clear


def test_a_wrong_master_key_is_refused(keyring):
    keyring.current_keys([person_key(AINO)])
    Keyring(keyring._engine, os.urandom(32))  # building one is fine
    with pytest.raises(MasterKeyError):
        Keyring(keyring._engine, os.urandom(32)).check()


@pytest.mark.parametrize("text", ["", "c2hvcnQ=", "not base64 at all!", "A" * 44])
def test_a_master_key_must_be_32_bytes_of_base64(text):
    with pytest.raises(MasterKeyError):
        parse_master_key(text)


def test_a_second_master_key_is_refused_even_when_the_first_has_sealed_nothing_yet(keyring):
    keyring.check()  # a new installation: nothing sealed yet
    with pytest.raises(MasterKeyError):
        Keyring(keyring._engine, os.urandom(32)).check()
