"""drifts.diff: paths, list-as-multiset semantics, type changes and determinism, without a database."""

import copy
import hashlib
import json
import random

import pytest

from drifts.diff import ROOT, canonical_json, diff, element_ident, format_path, is_root, split_path

SSH_FROM_WORLD = {
    "IpProtocol": "tcp",
    "FromPort": 22,
    "ToPort": 22,
    "Source": "0.0.0.0/0",
    "Description": None,
}


def change(path, op, baseline, current):
    return {"path": path, "op": op, "baseline": baseline, "current": current}


def sg_rule(port, source="10.0.0.0/8"):
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "Source": source, "Description": None}


# --- whole documents ------------------------------------------------------------------------------


def test_equal_documents_have_no_changes():
    doc = {
        "Versioning": "Enabled",
        "Tags": {"env": "prod"},
        "Ports": [22, 80],
        "Nested": {"a": [{"b": None}]},
    }
    assert diff(doc, copy.deepcopy(doc)) == []


def test_a_document_compared_with_itself_has_no_changes():
    doc = {"a": {"b": [1, {"c": True}]}}
    assert diff(doc, doc) == []


def test_no_baseline_is_one_addition_at_the_root():
    doc = {"Versioning": "Enabled"}
    assert diff(None, doc) == [change("", "added", None, doc)]


def test_no_current_document_is_one_removal_at_the_root():
    doc = {"Versioning": "Enabled"}
    assert diff(doc, None) == [change("", "removed", doc, None)]


def test_two_missing_documents_have_no_changes():
    assert diff(None, None) == []


def test_root_type_change_is_one_change_at_the_root():
    assert diff({"a": 1}, [1]) == [change("", "changed", {"a": 1}, [1])]


def test_root_scalars_compare_directly():
    assert diff("a", "b") == [change("", "changed", "a", "b")]
    assert diff(3, 3) == []


# --- dicts ----------------------------------------------------------------------------------------


def test_key_only_in_current_is_added():
    assert diff({}, {"Logging": {"TargetBucket": "logs"}}) == [
        change("Logging", "added", None, {"TargetBucket": "logs"})
    ]


def test_key_only_in_baseline_is_removed():
    assert diff({"Logging": "x", "Keep": 1}, {"Keep": 1}) == [change("Logging", "removed", "x", None)]


def test_nested_scalar_change_has_a_dotted_path():
    baseline = {"PublicAccessBlock": {"BlockPublicAcls": True, "IgnorePublicAcls": True}}
    current = {"PublicAccessBlock": {"BlockPublicAcls": False, "IgnorePublicAcls": True}}
    assert diff(baseline, current) == [change("PublicAccessBlock.BlockPublicAcls", "changed", True, False)]


def test_key_with_null_value_is_not_the_same_as_a_missing_key():
    assert diff({"Logging": None}, {}) == [change("Logging", "removed", None, None)]
    assert diff({}, {"Logging": None}) == [change("Logging", "added", None, None)]


def test_null_to_a_value_is_changed_not_added():
    assert diff({"Logging": None}, {"Logging": {"TargetBucket": "b"}}) == [
        change("Logging", "changed", None, {"TargetBucket": "b"})
    ]


def test_dashed_key_is_written_bare():
    expected = [change("Tags.cost-center", "added", None, "42")]
    assert diff({"Tags": {}}, {"Tags": {"cost-center": "42"}}) == expected


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("app.tier", 'Tags["app.tier"]'),
        ("a[0]", 'Tags["a[0]"]'),
        ("x]", 'Tags["x]"]'),
        ('say "hi"', 'Tags["say \\"hi\\""]'),
        ("", 'Tags[""]'),
    ],
)
def test_key_that_cannot_be_bare_is_bracketed_as_a_json_string(key, path):
    assert diff({"Tags": {}}, {"Tags": {key: "v"}}) == [change(path, "added", None, "v")]


def test_bracketed_key_at_the_root_has_no_leading_dot():
    assert diff({"a.b": 1}, {"a.b": 2}) == [change('["a.b"]', "changed", 1, 2)]


def test_dict_under_a_bracketed_key_continues_with_a_dot():
    expected = [change('Tags["a.b"].c', "changed", 1, 2)]
    assert diff({"Tags": {"a.b": {"c": 1}}}, {"Tags": {"a.b": {"c": 2}}}) == expected


# --- types ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"a": 1}, "scalar"),
        ([1, 2], {"a": 1}),
        ({"a": 1}, [1]),
        ("1", 1),
        (None, {"a": 1}),
        ([{"a": 1}], "x"),
    ],
)
def test_type_change_is_one_change_without_recursing(old, new):
    assert diff({"Value": old}, {"Value": new}) == [change("Value", "changed", old, new)]


def test_true_is_not_one():
    assert diff({"Flag": True}, {"Flag": 1}) == [change("Flag", "changed", True, 1)]
    assert diff({"Flag": 0}, {"Flag": False}) == [change("Flag", "changed", 0, False)]


def test_one_is_not_one_point_zero():
    assert diff({"Size": 1}, {"Size": 1.0}) == [change("Size", "changed", 1, 1.0)]


def test_true_is_not_one_inside_a_list():
    assert diff({"L": [True]}, {"L": [1]}) == [
        change("L[1]", "added", None, 1),
        change("L[true]", "removed", True, None),
    ]


def test_true_is_not_one_inside_a_list_element():
    old, new = {"On": True}, {"On": 1}
    assert diff({"L": [old]}, {"L": [new]}) == [
        change("L[#0644816ec892]", "removed", old, None),
        change("L[#8b00a1787a55]", "added", None, new),
    ]


# --- lists as multisets ---------------------------------------------------------------------------


def test_list_order_is_ignored():
    baseline = {"Ports": [22, 80, 443], "Rules": [sg_rule(1), sg_rule(2)]}
    current = {"Ports": [443, 22, 80], "Rules": [sg_rule(2), sg_rule(1)]}
    assert diff(baseline, current) == []


def test_dict_element_order_of_keys_is_ignored():
    assert diff({"L": [{"a": 1, "b": 2}]}, {"L": [{"b": 2, "a": 1}]}) == []


def test_string_element_is_named_by_its_json():
    arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert diff({"AttachedManagedPolicies": []}, {"AttachedManagedPolicies": [arn]}) == [
        change('AttachedManagedPolicies["arn:aws:iam::aws:policy/AdministratorAccess"]', "added", None, arn)
    ]


def test_number_element_is_named_by_its_json():
    assert diff({"Ports": [22, 80]}, {"Ports": [80]}) == [change("Ports[22]", "removed", 22, None)]


@pytest.mark.parametrize(
    ("value", "ident"), [(True, "true"), (None, "null"), (1.5, "1.5"), (-3, "-3"), ("a.b", '"a.b"')]
)
def test_other_scalar_elements_are_named_by_their_json(value, ident):
    assert diff({"L": []}, {"L": [value]}) == [change(f"L[{ident}]", "added", None, value)]


def test_dict_element_is_named_by_a_hash_of_its_canonical_json():
    assert diff({"IngressRules": []}, {"IngressRules": [SSH_FROM_WORLD]}) == [
        change("IngressRules[#351577e78ea1]", "added", None, SSH_FROM_WORLD)
    ]


def test_element_ident_hash_is_sha256_of_sorted_compact_json():
    value = {"b": [1, {"z": None}], "a": "x"}
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    assert element_ident(value) == "#" + hashlib.sha256(text.encode()).hexdigest()[:12]


@pytest.mark.parametrize(
    ("value", "ident"),
    [
        (22, "22"),
        ("sg-1", '"sg-1"'),
        (False, "false"),
        (None, "null"),
        ([1, 2], "#49a64717d5d4"),
        ({"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}, "#5e321a3b39c8"),
    ],
)
def test_element_ident(value, ident):
    assert element_ident(value) == ident


def test_element_ident_ignores_key_order():
    assert element_ident({"a": 1, "b": 2}) == element_ident({"b": 2, "a": 1})


def test_canonical_json_is_sorted_and_compact():
    assert canonical_json({"b": 1, "a": [True, None]}) == '{"a":[true,null],"b":1}'


def test_changed_list_element_is_a_removal_and_an_addition():
    old, new = sg_rule(22), sg_rule(22, source="0.0.0.0/0")
    assert diff({"IngressRules": [old]}, {"IngressRules": [new]}) == [
        change(f"IngressRules[{element_ident(new)}]", "added", None, new),
        change(f"IngressRules[{element_ident(old)}]", "removed", old, None),
    ]


def test_nested_list_inside_an_element_is_part_of_the_element():
    old = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}
    new = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["*"]}
    changes = diff({"Policy": {"Statement": [old]}}, {"Policy": {"Statement": [new]}})
    assert changes == [
        change(f"Policy.Statement[{element_ident(new)}]", "added", None, new),
        change(f"Policy.Statement[{element_ident(old)}]", "removed", old, None),
    ]


def test_one_extra_copy_of_a_duplicate_is_one_change():
    assert diff({"Ports": [22]}, {"Ports": [22, 22]}) == [change("Ports[22]", "added", None, 22)]
    assert diff({"Ports": [22, 22, 80]}, {"Ports": [80, 22]}) == [change("Ports[22]", "removed", 22, None)]


def test_duplicates_count_so_a_list_with_more_copies_differs():
    assert diff({"Ports": [22, 80]}, {"Ports": [22, 22, 80]}) != []
    assert diff({"Ports": [22, 22, 80]}, {"Ports": [22, 80, 80]}) == [
        change("Ports[22]", "removed", 22, None),
        change("Ports[80]", "added", None, 80),
    ]


def test_several_surplus_copies_still_make_one_change_per_path():
    # A path names one finding (one open drift per resource and path), so copies do not repeat it.
    assert diff({"Ports": [22]}, {"Ports": [22, 22, 22]}) == [change("Ports[22]", "added", None, 22)]


def test_list_at_the_root_names_elements_without_a_dot():
    assert diff([1, 2], [2, 3]) == [change("[1]", "removed", 1, None), change("[3]", "added", None, 3)]


def test_adding_one_rule_to_ten_is_one_change():
    rules = [sg_rule(port) for port in range(1000, 1010)]
    assert diff({"IngressRules": rules}, {"IngressRules": [*rules, SSH_FROM_WORLD]}) == [
        change("IngressRules[#351577e78ea1]", "added", None, SSH_FROM_WORLD)
    ]


def test_big_security_group_with_one_rule_added_is_one_change_in_any_order():
    rules = [sg_rule(port) for port in range(200)]
    baseline = {
        "GroupName": "web",
        "IngressRules": rules,
        "EgressRules": [sg_rule(443, "0.0.0.0/0")],
        "Tags": {},
    }
    current = copy.deepcopy(baseline)
    current["IngressRules"].insert(100, SSH_FROM_WORLD)
    random.Random(1).shuffle(current["IngressRules"])
    assert diff(baseline, current) == [change("IngressRules[#351577e78ea1]", "added", None, SSH_FROM_WORLD)]


def test_big_security_group_with_one_rule_removed_and_one_added_is_two_changes():
    rules = [sg_rule(port) for port in range(200)]
    current = [*rules[:50], *rules[51:], sg_rule(50, "0.0.0.0/0")]
    assert diff({"IngressRules": rules}, {"IngressRules": current}) == [
        change("IngressRules[#0c9188622e35]", "removed", sg_rule(50), None),
        change("IngressRules[#abff0b8ae9cf]", "added", None, sg_rule(50, "0.0.0.0/0")),
    ]
    assert element_ident(sg_rule(50)) == "#0c9188622e35"


# --- determinism ----------------------------------------------------------------------------------


def test_changes_are_sorted_by_path_then_op():
    baseline = {"b": 1, "a": {"y": 1, "x": 1}, "L": [1, 2], "Tags": {"k": "v"}}
    current = {"a": {"x": 2}, "c": 3, "L": [3, 2], "Tags": {}, "b": 2}
    assert [(c["path"], c["op"]) for c in diff(baseline, current)] == [
        ("L[1]", "removed"),
        ("L[3]", "added"),
        ("Tags.k", "removed"),
        ("a.x", "changed"),
        ("a.y", "removed"),
        ("b", "changed"),
        ("c", "added"),
    ]


def test_key_and_list_order_do_not_change_the_output():
    baseline = {"a": 1, "b": {"c": [1, 2, 3], "d": "x"}, "e": [{"f": 1}, {"g": 2}]}
    current = {"a": 2, "b": {"c": [3, 4], "d": "y"}, "e": [{"g": 3}, {"f": 1}], "h": None}
    reordered = {"h": None, "e": [{"f": 1}, {"g": 3}], "b": {"d": "y", "c": [4, 3]}, "a": 2}
    assert diff(baseline, current) == diff(baseline, reordered)
    assert len(diff(baseline, current)) == 8


def test_change_holds_the_values_on_each_side():
    changes = diff({"Encryption": {"Rules": [1]}}, {"Encryption": None})
    assert changes == [change("Encryption", "changed", {"Rules": [1]}, None)]
    assert set(changes[0]) == {"path", "op", "baseline", "current"}


# --- paths ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("", []),
        ("Versioning", ["Versioning"]),
        ("PublicAccessBlock.BlockPublicAcls", ["PublicAccessBlock", "BlockPublicAcls"]),
        ("Tags.cost-center", ["Tags", "cost-center"]),
        ('Tags["app.tier"]', ["Tags", "app.tier"]),
        ('Tags[""]', ["Tags", ""]),
        ('Tags["say \\"hi\\""]', ["Tags", 'say "hi"']),
        ('Tags["a.b"].c', ["Tags", "a.b", "c"]),
        ('["a.b"]', ["a.b"]),
        ("Ports[22]", ["Ports", "[22]"]),
        ("L[-1.5]", ["L", "[-1.5]"]),
        ("L[true]", ["L", "[true]"]),
        ("L[null]", ["L", "[null]"]),
        ("IngressRules[#1a2b3c4d5e6f]", ["IngressRules", "[#1a2b3c4d5e6f]"]),
        ("Policy.Statement[#1a2b3c4d5e6f]", ["Policy", "Statement", "[#1a2b3c4d5e6f]"]),
        ('Aliases["alias/prod"]', ["Aliases", '["alias/prod"]']),
        (
            'AttachedManagedPolicies["arn:aws:iam::aws:policy/A"]',
            ["AttachedManagedPolicies", '["arn:aws:iam::aws:policy/A"]'],
        ),
        ('X["[22]"]', ["X", '["[22]"]']),
        ("[3]", ["[3]"]),
    ],
)
def test_split_and_format_are_inverses(path, parts):
    assert split_path(path) == parts
    assert format_path(parts) == path


def test_format_path_brackets_raw_keys_that_need_it():
    assert format_path(["Tags", "app.tier"]) == 'Tags["app.tier"]'
    assert format_path(["", "a"]) == '[""].a'


def test_every_path_diff_writes_splits_and_formats_back_to_itself():
    baseline = {
        "Tags": {"app.tier": "web", "env": "prod", "": "e"},
        "Aliases": ["alias/prod", "alias/a.b"],
        "Ports": [22, 80],
        "IngressRules": [sg_rule(1)],
        "Flags": [True, None, 1.5],
        "[22]": 1,
    }
    current = {
        "Tags": {"app.tier": "db", "team": "x"},
        "Aliases": ["alias/dev", "alias/c.d"],
        "Ports": [443],
        "IngressRules": [SSH_FROM_WORLD],
        "Flags": [False],
        "[22]": 2,
    }
    paths = [c["path"] for c in diff(baseline, current)]
    assert len(paths) == 18
    for path in paths:
        assert format_path(split_path(path)) == path
        assert split_path(format_path(split_path(path))) == split_path(path)


@pytest.mark.parametrize(
    "path",
    [
        ".a",
        "a.",
        "a..b",
        "a[",
        "a[x]",
        'a["x"',
        "a[]",
        "a[#xyz]",
        "a[#1a2b3c]",
        "a[{}]",
        "a[[1]]",
        'a"b',
        "a]b",
        "a[1]b",
    ],
)
def test_split_path_rejects_malformed_paths(path):
    with pytest.raises(ValueError):
        split_path(path)


def test_is_root():
    assert is_root("") is True
    assert is_root(ROOT) is True
    assert is_root("Tags") is False
