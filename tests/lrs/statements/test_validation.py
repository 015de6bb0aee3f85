"""Statement validation (lrs/validation.py): one test per requirement, each naming the exact path.

"1.0.3 §x" refers to xAPI-Data.md of 1.0.3, "2.0 §x" to IEEE 9274.1.1 (xAPI Base Standard for LRSs).
"""

from __future__ import annotations

import pytest

from schemas.validation import Problem, validate_statement, validate_statements
from schemas.versions import rules_for
from tests.fixtures.statements import (
    ANONYMOUS_GROUP,
    ATTACHMENT,
    FULL,
    FULL_2_0,
    MINIMAL,
    OTHER_ID,
    STATEMENT_ID,
    SUBSTATEMENT,
    VALID_IN_2_0_ONLY,
    VALID_IN_BOTH,
    VOIDED,
    VOIDING,
    interaction,
    make,
)

BOTH = pytest.mark.parametrize("version", ["1.0.3", "2.0.0"])


def paths(statement, version="2.0.0"):
    return [problem.path for problem in validate_statement(statement, version)]


def messages(statement, version="2.0.0"):
    return [str(problem) for problem in validate_statement(statement, version)]


def with_context(**context):
    return make(context=context)


# --- valid statements -----------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("name", sorted(VALID_IN_BOTH))
def test_valid_statement_passes(name, version):
    assert validate_statement(VALID_IN_BOTH[name], version) == []


@pytest.mark.parametrize("name", sorted(VALID_IN_2_0_ONLY))
def test_valid_2_0_statement_passes_under_2_0_0(name):
    assert validate_statement(VALID_IN_2_0_ONLY[name], "2.0.0") == []


def test_2_0_only_statement_is_rejected_under_1_0_3_naming_each_2_0_property():
    assert paths(FULL_2_0, "1.0.3") == ["version", "context.contextAgents", "context.contextGroups"]


def test_validation_does_not_modify_the_statement():
    statement = make(FULL)
    validate_statement(statement, "1.0.3")
    assert statement == FULL


@pytest.mark.parametrize(("version", "rules"), [("1.0.3", "1.0"), ("1.0.0", "1.0"), ("1.0", "1.0"), ("2.0.0", "2.0"), ("2.0.1", "2.0")])
def test_any_patch_version_uses_its_minor_versions_rules(version, rules):
    assert rules_for(version) == rules


@pytest.mark.parametrize("version", ["0.95", "1.1.0", "2.1.0", "", "latest"])
def test_unsupported_version_argument_is_a_programming_error(version):
    with pytest.raises(ValueError):
        validate_statement(MINIMAL, version)


# --- problems name the field ----------------------------------------------------------------


def test_problem_reads_as_path_colon_message():
    assert str(Problem("actor.mbox", "must start with 'mailto:'")) == "actor.mbox: must start with 'mailto:'"
    assert str(Problem("", "the body must be a statement object")) == "the body must be a statement object"


@BOTH
def test_mbox_without_mailto_scheme_is_rejected_naming_the_field(version):
    statement = make(actor={"objectType": "Agent", "mbox": "aino@example.com"})
    assert messages(statement, version) == ["actor.mbox: must start with 'mailto:'"]


def test_group_actor_error_comes_from_the_group_branch_not_a_union_failure():
    statement = make(actor={"objectType": "Group", "member": [{"mbox": "aino@example.com"}]})
    assert messages(statement) == ["actor.member[0].mbox: must start with 'mailto:'"]


# --- 1.0.3 §2.2 / 2.0 §4.2.1 formatting requirements -----------------------------------------


def test_statement_that_is_not_an_object_is_rejected():
    assert messages([MINIMAL]) == ["a statement must be an object"]


@BOTH
@pytest.mark.parametrize("prop", ["actor", "verb", "object"])
def test_statement_without_actor_verb_or_object_is_rejected(prop, version):
    assert paths(make(**{prop: None}), version) == [prop]


@BOTH
def test_unknown_top_level_property_is_rejected(version):
    assert messages(make(comment="hi"), version) == ["comment: is not allowed in a Statement"]


@BOTH
def test_key_with_wrong_case_is_rejected(version):
    statement = make(Verb=MINIMAL["verb"], verb=None)
    assert paths(statement, version) == ["verb", "Verb"]


@BOTH
@pytest.mark.parametrize(
    ("statement", "path"),
    [
        (make(verb={"id": "http://adlnet.gov/expapi/verbs/experienced", "label": "x"}), "verb.label"),
        (make(actor={"mbox": "mailto:aino@example.com", "email": "aino@example.com"}), "actor.email"),
        (with_context(contextActivities={"parent": [{"id": "http://example.com/a", "title": "x"}]}), "context.contextActivities.parent[0].title"),
        (make(result={"score": {"percent": 5}}), "result.score.percent"),
        (make(attachments=[{**ATTACHMENT, "checksum": "x"}]), "attachments[0].checksum"),
    ],
)
def test_unknown_property_in_a_nested_object_is_rejected(statement, path, version):
    assert paths(statement, version) == [path]


@BOTH
def test_null_value_is_rejected(version):
    assert messages(make(actor={"mbox": "mailto:aino@example.com", "name": None}), version) == [
        "actor.name: must be a string, not null"
    ]


@BOTH
def test_null_inside_extensions_is_accepted(version):
    statement = make(result={"extensions": {"http://example.com/ext": None, "http://example.com/e2": {}}})
    assert paths(statement, version) == []


def test_string_where_a_number_is_required_is_rejected():
    assert messages(make(result={"score": {"raw": "95"}})) == ["result.score.raw: must be a number"]


def test_string_where_a_boolean_is_required_is_rejected():
    assert messages(make(result={"success": "true"})) == ["result.success: must be true or false"]


@BOTH
@pytest.mark.parametrize(
    ("statement", "path"),
    [
        (make(verb={"id": "adlnet.gov/expapi/verbs/experienced"}), "verb.id"),
        (make(object={"id": "polku.example/activities/1"}), "object.id"),
        (make(object={"id": "http://example.com/a", "definition": {"type": "example.com/type"}}), "object.definition.type"),
        (make(object={"id": "http://example.com/a", "definition": {"moreInfo": "example.com"}}), "object.definition.moreInfo"),
        (make(actor={"openid": "open.id.com/testUser"}), "actor.openid"),
        (make(actor={"account": {"homePage": "homePage.com/testUser", "name": "1"}}), "actor.account.homePage"),
        (make(verb={"id": "ab=c://should.fail.com"}), "verb.id"),
        (make(verb={"id": ""}), "verb.id"),
        (make(verb={"id": "http://example.com/has space"}), "verb.id"),
    ],
)
def test_iri_without_a_valid_scheme_is_rejected(statement, path, version):
    assert paths(statement, version) == [path]


# --- 1.0.3 §2.4.2 / 2.0 §4.2.2.1 actors -------------------------------------------------------


@BOTH
def test_agent_with_two_inverse_functional_identifiers_is_rejected(version):
    statement = make(actor={"mbox": "mailto:aino@example.com", "openid": "http://openid.example.org/aino"})
    assert paths(statement, version) == ["actor"]


@BOTH
def test_agent_without_an_inverse_functional_identifier_is_rejected(version):
    assert paths(make(actor={"objectType": "Agent", "name": "Aino"}), version) == ["actor"]


@BOTH
@pytest.mark.parametrize("value", ["cd9b00a5611f94eaa7b1661edab97606", "zz9b00a5611f94eaa7b1661edab976068e364975", ""])
def test_mbox_sha1sum_must_be_forty_hex_digits(value, version):
    assert paths(make(actor={"mbox_sha1sum": value}), version) == ["actor.mbox_sha1sum"]


@BOTH
def test_mbox_must_hold_an_email_address(version):
    assert messages(make(actor={"mbox": "mailto:should.fail.com"}), version) == [
        "actor.mbox: must be 'mailto:' followed by an email address"
    ]


@BOTH
def test_account_needs_home_page_and_name(version):
    assert paths(make(actor={"account": {}}), version) == ["actor.account.homePage", "actor.account.name"]


@BOTH
def test_actor_object_type_must_be_agent_or_group(version):
    statement = make(actor={"objectType": "agent", "mbox": "mailto:aino@example.com"})
    assert paths(statement, version)[0] == "actor.objectType"


@BOTH
def test_identified_group_with_two_inverse_functional_identifiers_is_rejected(version):
    group = {"objectType": "Group", "mbox": "mailto:team@example.com", "openid": "http://openid.example.org/team"}
    assert paths(make(actor=group), version) == ["actor"]


@BOTH
def test_anonymous_group_without_members_is_rejected(version):
    assert paths(make(actor={"objectType": "Group", "name": "Pair 2"}), version) == ["actor.member"]


@BOTH
def test_identified_group_without_members_is_accepted(version):
    assert paths(make(actor={"objectType": "Group", "mbox": "mailto:team@example.com"}), version) == []


@BOTH
def test_group_member_that_is_a_group_is_rejected(version):
    group = {"objectType": "Group", "member": [{"objectType": "Group", "mbox": "mailto:team@example.com"}]}
    assert messages(make(actor=group), version) == [
        "actor.member[0].objectType: must be 'Agent': a Group's members are Agents, not Groups"
    ]


@BOTH
def test_group_member_needs_exactly_one_inverse_functional_identifier(version):
    group = {**ANONYMOUS_GROUP, "member": [{"mbox": "mailto:a@example.com"}, {"name": "nobody"}]}
    assert paths(make(actor=group), version) == ["actor.member[1]"]


@BOTH
@pytest.mark.parametrize("identifier", [{"mbox": "mailto:aino@example.com"}, {"member": []}])
def test_agent_or_group_as_object_requires_object_type(identifier, version):
    assert "object.objectType" in paths(make(object=identifier), version)


# --- 1.0.3 §2.4.3, §2.3.2 / 2.0 §4.2.2.2, §4.2.5 verbs and voiding ----------------------------


@BOTH
def test_verb_needs_an_id(version):
    assert paths(make(verb={"display": {"en-US": "did"}}), version) == ["verb.id"]


@BOTH
def test_voiding_statement_needs_a_statement_ref_object(version):
    statement = make(VOIDING, object={"objectType": "Activity", "id": "http://example.com/a"})
    assert messages(statement, version) == ["object.objectType: must be 'StatementRef' when the verb is voided"]


@BOTH
def test_voiding_statement_without_object_type_is_rejected(version):
    statement = make(VOIDING, object={"id": "http://example.com/a"})
    assert paths(statement, version) == ["object.objectType"]


@BOTH
def test_voiding_statement_needs_the_id_of_the_voided_statement(version):
    statement = make(VOIDING, object={"objectType": "StatementRef"})
    assert paths(statement, version) == ["object.id"]


def test_other_verbs_may_reference_statements():
    statement = make(verb={"id": "http://example.com/commented"}, object={"objectType": "StatementRef", "id": OTHER_ID})
    assert paths(statement) == []


def test_voided_verb_constant_is_the_reserved_iri():
    assert VOIDING["verb"]["id"] == VOIDED


# --- 1.0.3 §2.4.4 / 2.0 §4.2.2.3 objects ------------------------------------------------------


@BOTH
def test_activity_needs_an_id(version):
    assert paths(make(object={"objectType": "Activity"}), version) == ["object.id"]


@BOTH
def test_object_type_value_is_case_sensitive(version):
    statement = make(object={"objectType": "activity", "id": "http://example.com/a"})
    assert paths(statement, version) == ["object.objectType"]


@BOTH
@pytest.mark.parametrize("value", ["AA97B177-9383-4934-8543-0F91A7A028368", "MA97B177-9383-4934-8543-0F91A7A02836", "12345"])
def test_statement_ref_id_must_be_a_uuid(value, version):
    assert paths(make(object={"objectType": "StatementRef", "id": value}), version) == ["object.id"]


@BOTH
def test_uuids_are_accepted_in_upper_case(version):
    assert paths(make(id=STATEMENT_ID.upper()), version) == []


@BOTH
def test_statement_id_must_be_a_uuid(version):
    assert paths(make(id="statement-1"), version) == ["id"]


# --- SubStatements: 1.0.3 §2.4.4.3 / 2.0 §4.2.2.3, §4.2.4.2 -----------------------------------


@BOTH
def test_substatement_cannot_contain_a_substatement(version):
    statement = make(SUBSTATEMENT)
    statement["object"]["object"] = {**SUBSTATEMENT["object"], "attachments": []}
    assert messages(statement, version)[0] == "object.object.objectType: a SubStatement cannot contain another SubStatement"


@BOTH
@pytest.mark.parametrize(
    ("prop", "value"),
    [("id", STATEMENT_ID), ("stored", "2024-05-04T09:00:00Z"), ("version", "1.0.0"), ("authority", {"mbox": "mailto:a@example.com"})],
)
def test_substatement_may_not_have_id_stored_version_or_authority(prop, value, version):
    statement = make(SUBSTATEMENT)
    statement["object"][prop] = value
    assert messages(statement, version) == [f"object.{prop}: is not allowed in a SubStatement"]


@BOTH
def test_substatement_is_validated_as_a_statement(version):
    statement = make(SUBSTATEMENT)
    statement["object"]["actor"] = {"mbox": "mailto:a@example.com", "openid": "http://openid.example.org/a"}
    statement["object"]["result"] = {"score": {"scaled": 2}}
    assert paths(statement, version) == ["object.result.score.scaled", "object.actor"]


@BOTH
def test_substatement_needs_actor_verb_and_object(version):
    statement = make(object={"objectType": "SubStatement"})
    assert paths(statement, version) == ["object.actor", "object.verb", "object.object"]


# --- Interaction activities: 1.0.3 §2.4.4.1 / 2.0 §4.2.2.3 ------------------------------------


@BOTH
@pytest.mark.parametrize("value", ["true-faLse", "essay", 12345])
def test_interaction_type_must_be_one_of_the_defined_values(value, version):
    assert paths(interaction(value), version) == ["object.definition.interactionType"]


@BOTH
@pytest.mark.parametrize(
    ("interaction_type", "lists"),
    [
        ("true-false", {}),
        ("choice", {"choices": [{"id": "a"}, {"id": "b"}]}),
        ("sequencing", {"choices": [{"id": "a"}]}),
        ("likert", {"scale": [{"id": "1", "description": {"en-US": "Never"}}]}),
        ("matching", {"source": [{"id": "s"}], "target": [{"id": "t"}]}),
        ("performance", {"steps": [{"id": "1"}]}),
        ("fill-in", {"correctResponsesPattern": ["{case_matters=false}Polku"]}),
        ("long-fill-in", {}),
        ("numeric", {"correctResponsesPattern": ["4[:]6"]}),
        ("other", {}),
    ],
)
def test_interaction_with_its_supported_component_lists_is_accepted(interaction_type, lists, version):
    assert paths(interaction(interaction_type, **lists), version) == []


@BOTH
@pytest.mark.parametrize(
    ("interaction_type", "component_list"),
    [("true-false", "choices"), ("choice", "scale"), ("likert", "choices"), ("fill-in", "steps"), ("matching", "choices")],
)
def test_component_list_not_supported_by_the_interaction_type_is_rejected(interaction_type, component_list, version):
    statement = interaction(interaction_type, **{component_list: [{"id": "a"}]})
    assert paths(statement, version) == [f"object.definition.{component_list}"]


@BOTH
def test_interaction_component_ids_must_be_distinct(version):
    statement = interaction("choice", choices=[{"id": "a"}, {"id": "b"}, {"id": "a"}])
    assert paths(statement, version) == ["object.definition.choices[2].id"]


@BOTH
def test_interaction_component_needs_an_id(version):
    statement = interaction("choice", choices=[{"description": {"en-US": "A"}}])
    assert paths(statement, version) == ["object.definition.choices[0].id"]


@BOTH
@pytest.mark.parametrize("prop", ["correctResponsesPattern", "choices", "scale", "source", "target", "steps"])
def test_interaction_properties_require_an_interaction_type(prop, version):
    value = ["a"] if prop == "correctResponsesPattern" else [{"id": "a"}]
    statement = make(object={"id": "http://example.com/q", "definition": {prop: value}})
    assert messages(statement, version) == [f"object.definition.interactionType: is required when {prop} is present"]


def test_interaction_components_in_context_activities_are_checked_too():
    activity = {"id": "http://example.com/q", "definition": {"interactionType": "true-false", "choices": [{"id": "a"}]}}
    assert paths(with_context(contextActivities={"parent": [activity]})) == ["context.contextActivities.parent[0].definition.choices"]


# --- Language maps: 1.0.3 §4.2 / 2.0 §4.2.7 ---------------------------------------------------


@BOTH
@pytest.mark.parametrize("key", ["a12345678", "a12345", "en_US", "english (US)", ""])
def test_language_map_key_must_be_an_rfc_5646_tag(key, version):
    assert messages(make(verb={"id": "http://example.com/v", "display": {key: "did"}}), version) == [
        f"verb.display: key {key!r} must be an RFC 5646 language tag such as 'en-US'"
    ]


@BOTH
@pytest.mark.parametrize("key", ["en", "en-US", "fi-FI", "zh-Hant-TW", "es-419", "ase", "sl-rozaj-biske", "de-CH-1901", "x-private", "i-klingon", "en-US-x-twain"])
def test_valid_language_tags_are_accepted(key, version):
    assert paths(make(verb={"id": "http://example.com/v", "display": {key: "did"}}), version) == []


def test_language_map_value_must_be_a_string():
    assert paths(make(verb={"id": "http://example.com/v", "display": {"en-US": 5}})) == ["verb.display.en-US"]


@BOTH
@pytest.mark.parametrize(
    ("statement", "path"),
    [
        (make(object={"id": "http://example.com/a", "definition": {"name": "Quiz"}}), "object.definition.name"),
        (make(attachments=[{**ATTACHMENT, "display": {"en_GB": "x"}}]), "attachments[0].display"),
        (with_context(language="en_GB"), "context.language"),
    ],
)
def test_language_maps_and_tags_are_checked_everywhere(statement, path, version):
    assert paths(statement, version) == [path]


# --- Result and score: 1.0.3 §2.4.5 / 2.0 §4.2.2.4 --------------------------------------------


@BOTH
@pytest.mark.parametrize("scaled", [1.01, -1.01, 2])
def test_scaled_score_outside_minus_one_to_one_is_rejected(scaled, version):
    assert messages(make(result={"score": {"scaled": scaled}}), version) == ["result.score.scaled: must be between -1 and 1"]


@BOTH
@pytest.mark.parametrize("scaled", [-1, 0, 0.6767676, 1])
def test_scaled_score_within_range_is_accepted(scaled, version):
    assert paths(make(result={"score": {"scaled": scaled}}), version) == []


@BOTH
def test_raw_score_above_max_is_rejected(version):
    assert paths(make(result={"score": {"raw": 101, "min": 0, "max": 100}}), version) == ["result.score.raw"]


@BOTH
def test_raw_score_below_min_is_rejected(version):
    assert paths(make(result={"score": {"raw": -1, "min": 0}}), version) == ["result.score.raw"]


@BOTH
@pytest.mark.parametrize(("low", "high"), [(10, 5), (5, 5)])
def test_min_must_be_less_than_max(low, high, version):
    assert paths(make(result={"score": {"min": low, "max": high}}), version) == ["result.score.min"]


@BOTH
@pytest.mark.parametrize("duration", ["PA1H0M0S", "P4W1D", "P", "PT", "1H", "PT1H0M0", "P0003-01-29T04:35:59", "pt1h"])
def test_duration_must_be_an_iso_8601_duration(duration, version):
    assert paths(make(result={"duration": duration}), version) == ["result.duration"]


@BOTH
@pytest.mark.parametrize("duration", ["PT4H35M59.14S", "PT16559.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "PT1H0M0.1S", "P1DT12H36M0.12567S"])
def test_iso_8601_durations_are_accepted(duration, version):
    assert paths(make(result={"duration": duration}), version) == []


# --- Context: 1.0.3 §2.4.6 / 2.0 §4.2.2.5 -----------------------------------------------------


@BOTH
@pytest.mark.parametrize("prop", ["revision", "platform"])
def test_revision_and_platform_require_an_activity_object(prop, version):
    statement = make(VOIDING, context={prop: "x"})
    assert messages(statement, version) == [f"context.{prop}: is only allowed when the statement's object is an Activity"]


@BOTH
def test_revision_and_platform_are_accepted_with_an_activity_object(version):
    assert paths(with_context(revision="2", platform="web"), version) == []


@BOTH
def test_context_activities_key_must_be_a_context_type(version):
    statement = with_context(contextActivities={"consequences": [{"id": "http://example.com/a"}]})
    assert messages(statement, version) == [
        "context.contextActivities.consequences: is not a context type (parent, grouping, category or other)"
    ]


@BOTH
def test_single_context_activity_object_is_accepted(version):
    assert paths(with_context(contextActivities={"parent": {"id": "http://example.com/a"}}), version) == []


@BOTH
def test_context_activity_needs_an_id(version):
    statement = with_context(contextActivities={"parent": [{"id": "http://example.com/a"}, {"objectType": "Activity"}]})
    assert paths(statement, version) == ["context.contextActivities.parent[1].id"]


@BOTH
def test_team_must_be_a_group(version):
    statement = with_context(team={"objectType": "Agent", "mbox": "mailto:a@example.com"})
    assert paths(statement, version)[0] == "context.team.objectType"


@BOTH
def test_instructor_agent_needs_exactly_one_inverse_functional_identifier(version):
    assert paths(with_context(instructor={"name": "Coach"}), version) == ["context.instructor"]


@BOTH
def test_context_statement_must_be_a_statement_ref(version):
    assert paths(with_context(statement={"id": OTHER_ID}), version) == ["context.statement.objectType"]


@BOTH
def test_registration_must_be_a_uuid(version):
    assert paths(with_context(registration="attempt-1"), version) == ["context.registration"]


CONTEXT_AGENTS = [{"objectType": "contextAgent", "agent": {"mbox": "mailto:coach@example.com"}}]
CONTEXT_GROUPS = [{"objectType": "contextGroup", "group": ANONYMOUS_GROUP}]


def test_context_agents_rejected_for_1_0_3():
    assert messages(with_context(contextAgents=CONTEXT_AGENTS), "1.0.3") == [
        "context.contextAgents: is not allowed in xAPI 1.0.x (it was added in 2.0.0)"
    ]


def test_context_groups_rejected_for_1_0_3():
    assert paths(with_context(contextGroups=CONTEXT_GROUPS), "1.0.3") == ["context.contextGroups"]


def test_context_agents_rejected_for_1_0_3_inside_a_substatement():
    statement = make(SUBSTATEMENT)
    statement["object"]["context"] = {"contextAgents": CONTEXT_AGENTS}
    assert paths(statement, "1.0.3") == ["object.context.contextAgents"]


def test_context_agents_and_groups_accepted_for_2_0_0():
    assert paths(with_context(contextAgents=CONTEXT_AGENTS, contextGroups=CONTEXT_GROUPS), "2.0.0") == []


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        ({"objectType": "agent", "agent": {"mbox": "mailto:a@example.com"}}, "context.contextAgents[0].objectType"),
        ({"agent": {"mbox": "mailto:a@example.com"}}, "context.contextAgents[0].objectType"),
        ({"objectType": "contextAgent"}, "context.contextAgents[0].agent"),
        ({"objectType": "contextAgent", "agent": {"name": "nobody"}}, "context.contextAgents[0].agent"),
        ({"objectType": "contextAgent", "agent": {"mbox": "mailto:a@example.com"}, "relevantTypes": []}, "context.contextAgents[0].relevantTypes"),
        ({"objectType": "contextAgent", "agent": {"mbox": "mailto:a@example.com"}, "relevantTypes": ["abc"]}, "context.contextAgents[0].relevantTypes[0]"),
    ],
)
def test_context_agent_must_be_a_context_agent_object(entry, path):
    assert paths(with_context(contextAgents=[entry])) == [path]


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        ({"objectType": "contextGroup", "group": {"mbox": "mailto:team@example.com"}}, "context.contextGroups[0].group.objectType"),
        ({"objectType": "contextGroup", "group": {"objectType": "Group"}}, "context.contextGroups[0].group.member"),
        ({"objectType": "contextAgent", "group": ANONYMOUS_GROUP}, "context.contextGroups[0].objectType"),
    ],
)
def test_context_group_must_be_a_context_group_object(entry, path):
    assert paths(with_context(contextGroups=[entry])) == [path]


# --- Extensions: 1.0.3 §4.1 / 2.0 §4.2.7 ------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("statement", "path"),
    [
        (make(result={"extensions": {"should fail": 1}}), "result.extensions"),
        (with_context(extensions={"example.com/extension": 1}), "context.extensions"),
        (make(object={"id": "http://example.com/a", "definition": {"extensions": {"id": 1}}}), "object.definition.extensions"),
    ],
)
def test_extension_keys_must_be_iris(statement, path, version):
    (problem,) = validate_statement(statement, version)
    assert problem.path == path
    assert "must be an IRI" in problem.message


@BOTH
@pytest.mark.parametrize("value", [None, "", {}, [], 0, True, {"nested": {"a": [1, None]}}])
def test_extension_values_may_be_any_json(value, version):
    assert paths(with_context(extensions={"http://example.com/ext": value}), version) == []


# --- Timestamps: 1.0.3 §4.5 / 2.0 §4.2.7 ------------------------------------------------------


@BOTH
def test_timestamp_must_include_a_time_zone(version):
    assert messages(make(timestamp="2024-05-04T12:00:00.000"), version) == [
        "timestamp: must include a time zone, such as 'Z' or '+02:00'"
    ]


@BOTH
@pytest.mark.parametrize("timestamp", ["2008-09-15T15:53:00.601-00:00", "2008-09-15T15:53:00.601-0000", "2008-09-15T15:53:00.601-00"])
def test_timestamp_with_negative_zero_offset_is_rejected(timestamp, version):
    assert paths(make(timestamp=timestamp), version) == ["timestamp"]


@BOTH
@pytest.mark.parametrize("timestamp", ["2008-09-15T15:53:00.601+00:00", "2023-05-04T12:00:00-05:00", "2012-06-01T19:09:13.245Z", "2024-02-29T23:59:60Z"])
def test_rfc_3339_timestamps_are_accepted(timestamp, version):
    assert paths(make(timestamp=timestamp), version) == []


@pytest.mark.parametrize("timestamp", ["20080915T155300Z", "2008-09-15T15:53Z", "2008-09-15T15:53:00,5+0200"])
def test_iso_8601_timestamps_outside_rfc_3339_are_accepted_only_for_1_0_3(timestamp):
    assert paths(make(timestamp=timestamp), "1.0.3") == []
    assert paths(make(timestamp=timestamp), "2.0.0") == ["timestamp"]


@BOTH
@pytest.mark.parametrize("timestamp", ["should fail", "01/011/2015", "2013-02-30T00:00:00Z", "2013-01-01T25:00:00Z", "2013-01-01T12:00:00+25:00", ""])
def test_timestamp_that_is_not_a_date_time_is_rejected(timestamp, version):
    assert paths(make(timestamp=timestamp), version) == ["timestamp"]


@BOTH
def test_stored_must_be_a_timestamp(version):
    assert paths(make(stored="yesterday"), version) == ["stored"]


@BOTH
def test_timestamp_in_the_future_is_accepted(version):
    assert paths(make(timestamp="2999-01-01T00:00:00Z"), version) == []


# --- Attachments: 1.0.3 §2.4.11 / 2.0 §4.2.2.6 ------------------------------------------------


@BOTH
def test_attachment_needs_usage_type_display_content_type_length_and_sha2(version):
    assert paths(make(attachments=[{}]), version) == [
        "attachments[0].usageType",
        "attachments[0].display",
        "attachments[0].contentType",
        "attachments[0].length",
        "attachments[0].sha2",
    ]


@BOTH
@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("usageType", "example.com/attachment-usage/test"),
        ("sha2", "not-a-hash"),
        ("sha2", "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848"),
        ("length", 27.5),
        ("length", "27"),
        ("length", -1),
        ("contentType", "plain text"),
        ("contentType", 5),
        ("display", "Signature"),
        ("fileUrl", "over.there.com/file.txt"),
    ],
)
def test_attachment_property_with_wrong_format_is_rejected(prop, value, version):
    assert paths(make(attachments=[{**ATTACHMENT, prop: value}]), version) == [f"attachments[0].{prop}"]


@BOTH
def test_attachments_must_be_an_array(version):
    assert paths(make(attachments=ATTACHMENT), version) == ["attachments"]


# --- Authority: 1.0.3 §2.4.9 ------------------------------------------------------------------


@BOTH
def test_authority_agent_with_two_inverse_functional_identifiers_is_rejected(version):
    authority = {"mbox": "mailto:a@example.com", "account": {"homePage": "http://example.com", "name": "a"}}
    assert paths(make(authority=authority), version) == ["authority"]


@BOTH
@pytest.mark.parametrize("count", [1, 3])
def test_authority_group_must_have_exactly_two_members(count, version):
    members = [{"mbox": f"mailto:m{i}@example.com"} for i in range(count)]
    assert paths(make(authority={"objectType": "Group", "member": members}), version) == ["authority.member"]


@BOTH
def test_authority_group_must_be_anonymous(version):
    authority = {**FULL["authority"], "mbox": "mailto:group@example.com"}
    assert paths(make(authority=authority), version) == ["authority"]


# --- Version: 1.0.3 §2.4.10 / 2.0 §4.1.7, §4.2.4.2 --------------------------------------------


@BOTH
@pytest.mark.parametrize("value", ["1.0", "1.0.0", "1.0.3", "1.0.9"])
def test_statement_version_1_0_x_is_accepted(value, version):
    assert paths(make(version=value), version) == []


@pytest.mark.parametrize("value", ["2.0.0", "2.0"])
def test_statement_version_2_0_is_rejected_under_1_0_3(value):
    assert messages(make(version=value), "1.0.3") == ["version: must be '1.0' or '1.0.x' under xAPI 1.0.x"]


@pytest.mark.parametrize("value", ["2.0.0", "2.0"])
def test_statement_version_2_0_is_accepted_under_2_0_0(value):
    assert paths(make(version=value), "2.0.0") == []


@BOTH
@pytest.mark.parametrize("value", ["0.9.9", "1.1.0", "2.1.0", "should fail", "1.0.x", ""])
def test_statement_version_outside_1_0_and_2_0_is_rejected(value, version):
    assert paths(make(version=value), version) == ["version"]


@BOTH
def test_statement_version_must_be_a_string(version):
    assert paths(make(version=1.0), version) == ["version"]


# --- Request bodies (batches) -----------------------------------------------------------------


def test_single_statement_body_is_validated_as_one_statement():
    assert [p.path for p in validate_statements(make(actor=None), "2.0.0")] == ["actor"]


def test_batch_problem_paths_start_with_the_statement_index():
    body = [MINIMAL, make(actor={"mbox": "aino@example.com"})]
    assert [str(p) for p in validate_statements(body, "2.0.0")] == ["[1].actor.mbox: must start with 'mailto:'"]


def test_batch_element_that_is_not_an_object_is_rejected():
    assert [p.path for p in validate_statements([MINIMAL, "statement"], "1.0.3")] == ["[1]"]


@BOTH
def test_batch_with_a_duplicate_id_is_rejected(version):
    body = [make(id=STATEMENT_ID), make(id=OTHER_ID), make(id=STATEMENT_ID.upper())]
    assert [str(p) for p in validate_statements(body, version)] == [
        "[2].id: duplicates the id of statement [0] in the same batch"
    ]


def test_batch_without_ids_is_accepted():
    assert validate_statements([MINIMAL, MINIMAL], "2.0.0") == []


@pytest.mark.parametrize("body", [[], "statement", None, 42])
def test_body_must_be_a_statement_or_a_non_empty_array(body):
    assert [p.path for p in validate_statements(body, "2.0.0")] == [""]
