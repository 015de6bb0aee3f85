"""The contract the document store keeps: one table, three key shapes, the xAPI concurrency rules,
merges, listing and deleting by scope, and compare-and-set under contention. A backend's test
module subclasses :class:`DocumentStoreContract` and provides a ``store`` fixture; nothing else
(tests/lrs/stores/test_document_store.py runs it on SQLite and on PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from lrs.stores.documents import (
    ACTIVITY_PROFILE,
    AGENT_PROFILE,
    STATE,
    Body,
    DocumentKey,
    Preconditions,
    Scope,
    Unconditional,
    for_delete,
    for_post,
    for_put,
)
from lrs.errors import BadRequest, Conflict, PreconditionFailed

ACTIVITY = "http://example.org/activities/coaching-day-1"
AINO = "mbox:mailto:aino@example.org"
NONE = Preconditions()
CREATE = Preconditions(if_none_match=frozenset({"*"}))


def json_body(value) -> Body:
    return Body(json.dumps(value).encode(), "application/json")


def state(state_id: str = "bookmark", registration: str = "", agent: str = AINO) -> DocumentKey:
    return DocumentKey(Scope(STATE, ACTIVITY, agent), state_id, registration)


class DocumentStoreContract:
    def test_a_document_round_trips_with_its_content_type_and_a_sha1_etag(self, store):
        body = Body(b"\x00\xffbinary", "application/x-scorm; charset=binary")
        written = store.change(state(), for_put(body, NONE, Unconditional.OVERWRITE))
        got = store.get(state())
        assert (got.content, got.content_type) == (body.content, body.content_type)
        assert got.etag == written.etag == hashlib.sha1(body.content).hexdigest()
        assert got.updated == written.updated

    def test_the_three_key_shapes_never_meet(self, store):
        same_id = "shared"
        keys = [
            state(same_id),
            state(same_id, registration="8f9b5e54-2c1a-4f6e-9d55-0f3f0c6c1a11"),
            state(same_id, agent="mbox:mailto:lauri@example.org"),
            DocumentKey(Scope(ACTIVITY_PROFILE, ACTIVITY), same_id),
            DocumentKey(Scope(AGENT_PROFILE, agent=AINO), same_id),
        ]
        for index, key in enumerate(keys):
            store.change(key, for_put(json_body({"n": index}), CREATE, Unconditional.REFUSE))
        assert [json.loads(store.get(key).content) for key in keys] == [{"n": i} for i in range(len(keys))]

    def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(self, store):
        store.change(state(), for_put(json_body({"v": 1}), NONE, Unconditional.OVERWRITE))
        with pytest.raises(PreconditionFailed):
            store.change(state(), for_put(json_body({"v": 2}), Preconditions(if_match=frozenset({"0" * 40})), Unconditional.CREATE))
        assert json.loads(store.get(state()).content) == {"v": 1}

    def test_if_none_match_star_is_412_when_the_document_exists(self, store):
        store.change(state(), for_put(json_body({"v": 1}), CREATE, Unconditional.CREATE))
        with pytest.raises(PreconditionFailed):
            store.change(state(), for_put(json_body({"v": 2}), CREATE, Unconditional.CREATE))

    def test_unconditional_put_rules_by_policy(self, store):
        key = state()
        store.change(key, for_put(json_body({"v": 1}), NONE, Unconditional.CREATE))
        with pytest.raises(Conflict):
            store.change(key, for_put(json_body({"v": 2}), NONE, Unconditional.CREATE))
        store.change(key, for_put(json_body({"v": 3}), NONE, Unconditional.OVERWRITE))
        assert json.loads(store.get(key).content) == {"v": 3}
        profile = DocumentKey(Scope(ACTIVITY_PROFILE, ACTIVITY), "p")
        with pytest.raises(BadRequest):
            store.change(profile, for_put(json_body({}), NONE, Unconditional.REFUSE))
        store.change(profile, for_put(json_body({}), CREATE, Unconditional.REFUSE))
        with pytest.raises(Conflict):
            store.change(profile, for_put(json_body({}), NONE, Unconditional.REFUSE))

    def test_post_merges_top_level_properties_and_refuses_what_is_not_a_json_object(self, store):
        key = state()
        store.change(key, for_post(json_body({"x": "foo", "y": {"deep": 1}}), NONE))
        store.change(key, for_post(json_body({"x": "bash", "z": "faz", "y": {"other": 2}}), NONE))
        assert json.loads(store.get(key).content) == {"x": "bash", "y": {"other": 2}, "z": "faz"}
        for bad in (Body(b"abc", "text/plain"), Body(b"[1, 2]", "application/json"), Body(b"{", "application/json")):
            with pytest.raises(BadRequest):
                store.change(key, for_post(bad, NONE))
        assert json.loads(store.get(key).content)["x"] == "bash"
        binary = state("binary")
        store.change(binary, for_put(Body(b"\x01\x02", "application/octet-stream"), NONE, Unconditional.OVERWRITE))
        with pytest.raises(BadRequest):
            store.change(binary, for_post(json_body({"a": 1}), NONE))

    def test_ids_list_a_scope_since_a_moment_and_delete_all_honours_registration(self, store):
        first = "11111111-1111-4111-8111-111111111111"
        store.change(state("a", first), for_put(json_body({}), NONE, Unconditional.OVERWRITE))
        store.change(state("b"), for_put(json_body({}), NONE, Unconditional.OVERWRITE))
        moment = store.get(state("b")).updated
        store.change(state("c"), for_put(json_body({}), NONE, Unconditional.OVERWRITE))
        store.change(state("x", agent="mbox:mailto:other@example.org"), for_put(json_body({}), NONE, Unconditional.OVERWRITE))
        scope = Scope(STATE, ACTIVITY, AINO)
        assert [i for i, _ in store.ids(scope)] == ["a", "b", "c"]
        assert [i for i, _ in store.ids(scope, registration=first)] == ["a"]
        assert [i for i, _ in store.ids(scope, since=moment)] == ["c"]
        assert store.delete_all(scope, registration=first) == 1
        assert [i for i, _ in store.ids(scope)] == ["b", "c"]
        store.delete_all(scope)
        assert store.ids(scope) == []
        assert store.get(state("x", agent="mbox:mailto:other@example.org")) is not None

    def test_delete_honours_if_match(self, store):
        written = store.change(state(), for_put(json_body({}), NONE, Unconditional.OVERWRITE))
        with pytest.raises(PreconditionFailed):
            store.change(state(), for_delete(Preconditions(if_match=frozenset({"0" * 40}))))
        store.change(state(), for_delete(Preconditions(if_match=frozenset({written.etag}))))
        assert store.get(state()) is None
        with pytest.raises(PreconditionFailed):
            store.change(state(), for_delete(Preconditions(if_match=frozenset({"*"}))))
        store.change(state(), for_delete(NONE))  # deleting what is not there is fine

    def test_concurrent_writers_with_one_etag_exactly_one_wins(self, store):
        original = store.change(state(), for_put(json_body({"v": 0}), NONE, Unconditional.OVERWRITE))
        pre = Preconditions(if_match=frozenset({original.etag}))
        writers = 6
        barrier = threading.Barrier(writers)
        outcomes: list[str] = []

        def write(n: int) -> None:
            barrier.wait()
            try:
                store.change(state(), for_put(json_body({"v": n}), pre, Unconditional.CREATE))
                outcomes.append("won")
            except PreconditionFailed:
                outcomes.append("412")

        threads = [threading.Thread(target=write, args=(n,)) for n in range(1, writers + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["412"] * (writers - 1) + ["won"]

    def test_concurrent_merges_keep_every_property(self, store):
        store.change(state(), for_post(json_body({}), NONE))
        writers = 6
        barrier = threading.Barrier(writers)

        def merge(n: int) -> None:
            barrier.wait()
            store.change(state(), for_post(json_body({f"k{n}": n}), NONE))

        threads = [threading.Thread(target=merge, args=(n,)) for n in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert json.loads(store.get(state()).content) == {f"k{n}": n for n in range(writers)}

    def test_a_write_decides_again_when_the_document_was_replaced_since_it_was_read(self, store):
        key = state()
        store.change(key, for_put(json_body({"v": 1}), NONE, Unconditional.OVERWRITE))
        seen: list[dict] = []

        def decide(current):
            seen.append(json.loads(current.content))
            if len(seen) == 1:  # another writer deletes and recreates the document meanwhile
                store.change(key, for_delete(NONE))
                store.change(key, for_put(json_body({"v": 2}), NONE, Unconditional.OVERWRITE))
            return json_body({"v": 3, "after": seen[-1]["v"]})

        store.change(key, decide)
        assert seen == [{"v": 1}, {"v": 2}]
        assert json.loads(store.get(key).content) == {"v": 3, "after": 2}

    def test_of_agent_lists_every_state_of_the_agent_across_activities_and_registrations_and_nothing_else(self, store):
        registration = "8f9b5e54-2c1a-4f6e-9d55-0f3f0c6c1a11"
        other_activity = DocumentKey(Scope(STATE, ACTIVITY + "/2", AINO), "bookmark")
        for key in (state(), state("notes", registration), other_activity, state(agent="mbox:mailto:onni@example.org")):
            store.change(key, for_put(json_body({"at": key.document_id}), NONE, Unconditional.OVERWRITE))
        store.change(DocumentKey(Scope(AGENT_PROFILE, "", AINO), "preferences"), for_put(json_body({}), CREATE, Unconditional.REFUSE))
        listed = store.of_agent(STATE, AINO)
        assert [(d.activity_id, d.registration, d.document_id) for d in listed] == [
            (ACTIVITY, "", "bookmark"), (ACTIVITY, registration, "notes"), (ACTIVITY + "/2", "", "bookmark")]
        assert listed[1].document == store.get(state("notes", registration))
        assert [d.document_id for d in store.of_agent(AGENT_PROFILE, AINO)] == ["preferences"]
