"""Comparing a live document with a declared one: declared keys only, differences of form dropped."""

from drifts.declared import compare, loosen, project


def test_projection_keeps_declared_keys_only_through_dicts():
    live = {"A": 1, "B": {"x": 1, "y": 2}, "C": [1, 2]}
    assert project(live, {"B": {"x": 0}, "C": []}) == {"B": {"x": 1}, "C": [1, 2]}


def test_an_undeclared_key_never_becomes_a_change():
    assert compare({"Versioning": "Enabled"}, {"Versioning": "Enabled", "Tags": {"new": "x"}}) == []


def test_a_declared_key_missing_live_is_a_removal():
    assert compare({"Logging": {"TargetBucket": "b"}}, {"Versioning": "Enabled"}) == [
        {"path": "Logging", "op": "removed", "baseline": {"TargetBucket": "b"}, "current": None}
    ]


def test_true_as_a_string_and_as_a_boolean_are_equal():
    assert compare({"Flag": "true"}, {"Flag": True}) == []
    assert compare({"Port": "443"}, {"Port": 443}) == []
    assert compare({"Flag": "true"}, {"Flag": False}) != []


def test_list_elements_equal_but_for_form_cancel_out():
    declared = {"Rules": [{"Port": "22", "On": "true"}]}
    live = {"Rules": [{"Port": 22, "On": True}]}
    assert compare(declared, live) == []
    changed = {"Rules": [{"Port": 23, "On": True}]}
    assert [c["op"] for c in compare(declared, changed)] == ["added", "removed"]


def test_loosen_leaves_other_strings_alone():
    assert loosen({"a": "007", "b": "1.5", "c": "yes", "d": "-3"}) == {"a": "007", "b": "1.5", "c": "yes", "d": -3}


def test_whole_documents_compare_as_added_and_removed():
    assert compare(None, {"a": 1})[0]["op"] == "added"
    assert compare({"a": 1}, None)[0]["op"] == "removed"
