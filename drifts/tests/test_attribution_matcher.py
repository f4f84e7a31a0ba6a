"""The matcher and actor parsing, pure, on records shaped as CloudTrail writes them (every identity type)."""

from datetime import UTC, datetime, timedelta

import pytest

from devtools import cloudtrail_logs as ct
from drifts.attribution import catalogue, matcher
from drifts.attribution.identity import actor_from_identity
from drifts.rules import CATALOGUE as RULES

T = datetime(2026, 11, 29, 14, 2, 11, tzinfo=UTC)
BUCKET = "data-lake-bucket"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
SG = "sg-0123456789abcdef0"
ROLE_ARN = "arn:aws:iam::123456789012:role/app"

# A record as CloudTrail delivered it for an IAM Identity Center (SSO) session, written out in full.
SSO_RECORD = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEID:alice@example.com",
        "arn": "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b/alice@example.com",
        "accountId": "123456789012",
        "accessKeyId": "ASIAEXAMPLEKEY",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEID",
                "arn": "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/"
                "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
                "accountId": "123456789012",
                "userName": "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
            },
            "attributes": {"creationDate": "2026-11-29T13:55:02Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-11-29T14:02:11Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "AuthorizeSecurityGroupIngress",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.9",
    "userAgent": "aws-cli/2.17.0",
    "requestParameters": {
        "groupId": SG,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": 22,
                    "toPort": 22,
                    "groups": {"items": [{"groupId": "sg-0fffffffffffffff0"}]},
                    "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                }
            ]
        },
    },
    "responseElements": {"_return": True},
    "requestID": "7b0c1a53-0000-4000-8000-000000000000",
    "eventID": "e2b5c7a1-0000-4000-8000-000000000001",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "123456789012",
    "eventCategory": "Management",
}


def target(resource_type="s3_bucket", external_id=BUCKET_ARN, path="PublicAccessBlock.BlockPublicAcls", **kw):
    values = {
        "key": 1,
        "resource_type": resource_type,
        "external_id": external_id,
        "identifiers": frozenset(catalogue.resource_identifiers(resource_type, external_id, "x", kw.pop("config", {}))),
        "region": None,
        "path": path,
        "change": catalogue.CHANGED,
        "not_before": T - timedelta(hours=1),
        "not_after": T + timedelta(minutes=1),
    }
    values.update(kw)
    return matcher.Target(**values)


def events(*records):
    return [e for e in (matcher.parse_record(r) for r in records) if e is not None]


def s3_event(name, when=T, identity=None, bucket=BUCKET, **kw):
    return ct.record(
        name, "s3.amazonaws.com", "us-east-1", identity or ct.iam_user("bob"), {"bucketName": bucket}, when=when, **kw
    )


# --- actors -------------------------------------------------------------------------------------------------


def test_an_iam_user_is_named_by_user_name():
    actor = actor_from_identity(ct.iam_user("bob"))
    assert (actor.actor, actor.actor_type, actor.user_name) == ("bob", "IAMUser", "bob")
    assert actor.actor_arn == "arn:aws:iam::123456789012:user/bob"


def test_an_sso_session_is_the_person_via_the_permission_set_role():
    actor = actor_from_identity(SSO_RECORD["userIdentity"])
    assert actor.actor == "alice@example.com via AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b"
    assert actor.actor_type == "AssumedRole"
    assert (actor.user_name, actor.role_name, actor.session_name) == (
        "alice@example.com",
        "AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b",
        "alice@example.com",
    )


def test_a_plain_assumed_role_names_role_and_session_but_no_person():
    actor = actor_from_identity(ct.assumed_role("deploy", "gha-4711"))
    assert actor.actor == "gha-4711 via deploy"
    assert (actor.role_name, actor.session_name, actor.user_name) == ("deploy", "gha-4711", None)


def test_root_service_identity_center_federated_and_odd_identities():
    assert actor_from_identity(ct.root("111122223333")).actor == "root (111122223333)"
    service = actor_from_identity(ct.aws_service("cloudformation.amazonaws.com"))
    assert (service.actor, service.actor_type, service.invoked_by) == (
        "cloudformation.amazonaws.com",
        "AWSService",
        "cloudformation.amazonaws.com",
    )
    center = actor_from_identity(ct.identity_center_user("carol-7f3a"))
    assert (center.actor, center.actor_type) == ("carol-7f3a", "IdentityCenterUser")
    federated = actor_from_identity(
        {
            "type": "FederatedUser",
            "arn": "arn:aws:sts::123456789012:federated-user/dave",
            "sessionContext": {"sessionIssuer": {"userName": "broker"}},
        }
    )
    assert federated.actor == "dave via broker"
    assert actor_from_identity({"type": "AWSAccount", "accountId": "999988887777"}).actor == "account 999988887777"
    assert actor_from_identity(None).actor == "unknown"
    assert actor_from_identity({"type": "SAMLUser", "userName": "erin"}).actor == "erin"


# --- matching -----------------------------------------------------------------------------------------------


def test_the_events_path_name_wins_over_a_later_write_to_the_same_resource():
    found = matcher.match(
        [target()],
        events(
            s3_event("PutBucketPublicAccessBlock", T - timedelta(minutes=10), identity=ct.iam_user("alice")),
            s3_event("PutBucketTagging", T - timedelta(minutes=1), identity=ct.iam_user("bob")),
        ),
    )
    who = matcher.changed_by(found[1])
    assert (who["actor"], who["event_name"], who["confidence"]) == ("alice", "PutBucketPublicAccessBlock", "exact")


def test_the_most_recent_exact_event_wins_and_a_resource_level_one_is_the_fallback():
    found = matcher.match(
        [target()],
        events(
            s3_event("DeleteBucketPublicAccessBlock", T - timedelta(minutes=20), identity=ct.iam_user("old")),
            s3_event("PutBucketPublicAccessBlock", T - timedelta(minutes=2), identity=ct.iam_user("new")),
        ),
    )
    assert matcher.changed_by(found[1])["actor"] == "new"
    fallback = matcher.match([target()], events(s3_event("PutBucketTagging", identity=ct.iam_user("tagger"))))
    who = matcher.changed_by(fallback[1])
    assert (who["actor"], who["confidence"]) == ("tagger", "resource")


def test_events_outside_the_window_reads_other_resources_and_other_services_never_match():
    outside = s3_event("PutBucketPublicAccessBlock", T - timedelta(hours=3))
    later = s3_event("PutBucketPublicAccessBlock", T + timedelta(minutes=5))
    read = s3_event("GetBucketPublicAccessBlock", read_only=True)
    other_bucket = s3_event("PutBucketPublicAccessBlock", bucket="someone-else")
    wrong_service = ct.record(
        "PutBucketPublicAccessBlock",
        "s3-outposts.amazonaws.com",
        "us-east-1",
        ct.iam_user("x"),
        {"bucketName": BUCKET},
        when=T,
    )
    assert matcher.match([target()], events(outside, later, read, other_bucket, wrong_service)) == {}


def test_a_security_group_rule_matches_its_group_not_the_group_its_rule_references():
    record = dict(SSO_RECORD)
    referenced = target(
        "ec2_security_group", "sg-0fffffffffffffff0", "IngressRules[#0123456789ab]", key=2, region="us-east-1"
    )
    mine = target("ec2_security_group", SG, "IngressRules[#0123456789ab]", region="us-east-1")
    found = matcher.match([mine, referenced], events(record))
    assert set(found) == {1}
    who = matcher.changed_by(found[1])
    assert who["actor"] == "alice@example.com via AWSReservedSSO_Admin_0a1b2c3d4e5f6a7b"
    assert (who["event_id"], who["event_time"], who["source_ip"]) == (
        "e2b5c7a1-0000-4000-8000-000000000001",
        "2026-11-29T14:02:11Z",
        "203.0.113.9",
    )
    # The same group id in another region is another resource.
    elsewhere = target("ec2_security_group", SG, "IngressRules[#0123456789ab]", region="eu-west-1")
    assert matcher.match([elsewhere], events(record)) == {}


def test_a_role_a_key_by_alias_and_a_trail_by_arn_are_recognised():
    role = target(
        "iam_role",
        ROLE_ARN,
        'AttachedManagedPolicies["arn:aws:iam::aws:policy/AdministratorAccess"]',
        config={"RoleName": "app"},
    )
    attach = ct.record(
        "AttachRolePolicy",
        "iam.amazonaws.com",
        "us-east-1",
        ct.assumed_role("deploy", "ci"),
        {"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        when=T,
    )
    assert matcher.changed_by(matcher.match([role], events(attach))[1])["confidence"] == "exact"

    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    key = target(
        "kms_key",
        key_arn,
        "KeyRotationEnabled",
        config={"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "Aliases": ["alias/app"]},
    )
    by_alias = ct.record(
        "DisableKeyRotation", "kms.amazonaws.com", "us-east-1", ct.root(), {"keyId": "alias/app"}, when=T
    )
    assert matcher.changed_by(matcher.match([key], events(by_alias))[1])["actor_type"] == "Root"

    trail_arn = "arn:aws:cloudtrail:us-east-1:123456789012:trail/org"
    trail = target("cloudtrail_trail", trail_arn, "IsLogging", config={"Name": "org"})
    stop = ct.record(
        "StopLogging", "cloudtrail.amazonaws.com", "us-east-1", ct.iam_user("mallory"), {"name": trail_arn}, when=T
    )
    assert matcher.changed_by(matcher.match([trail], events(stop))[1])["event_name"] == "StopLogging"


def test_appeared_and_deleted_resources_match_their_create_and_delete_calls():
    created = target(path="", change=catalogue.APPEARED)
    deleted = target(path="", change=catalogue.DELETED, key=2)
    found = matcher.match(
        [created, deleted],
        events(s3_event("CreateBucket", T - timedelta(minutes=3)), s3_event("DeleteBucket", T - timedelta(minutes=9))),
    )
    assert (found[1].event.event_name, found[1].confidence) == ("CreateBucket", "exact")
    assert (found[2].event.event_name, found[2].confidence) == ("DeleteBucket", "exact")


def test_an_uncatalogued_type_matches_by_its_arn_on_any_id_like_key():
    arn = "arn:aws:ecr:us-east-1:123456789012:repository/jobs"
    repo = target("ecr_repository", arn, "Policy", identifiers=frozenset({arn, "jobs"}), region="us-east-1")
    record = ct.record(
        "SetRepositoryPolicy",
        "ecr.amazonaws.com",
        "us-east-1",
        ct.iam_user("bob"),
        {"repositoryName": "jobs", "registryId": "123456789012"},
        when=T,
    )
    found = matcher.match([repo], events(record))
    assert (found[1].event.event_name, found[1].confidence) == ("SetRepositoryPolicy", "resource")


def test_a_queue_is_named_by_its_url_and_matched_exactly():
    arn = "arn:aws:sqs:us-east-1:123456789012:jobs"
    queue = target("sqs_queue", arn, "Policy.Statement", region="us-east-1")
    record = ct.record(
        "SetQueueAttributes",
        "sqs.amazonaws.com",
        "us-east-1",
        ct.iam_user("bob"),
        {"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", "attributes": {"Policy": "{}"}},
        when=T,
    )
    other = ct.record(
        "SetQueueAttributes",
        "sqs.amazonaws.com",
        "us-east-1",
        ct.iam_user("eve"),
        {"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs-dlq"},
        when=T + timedelta(seconds=5),
    )
    found = matcher.match([queue], events(record, other))
    assert (found[1].event.event_name, found[1].confidence) == ("SetQueueAttributes", "exact")
    assert found[1].event.record["userIdentity"]["userName"] == "bob"


def test_a_listener_change_is_its_load_balancers():
    lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188"
    balancer = target("elbv2_load_balancer", lb, "Listeners.443.SslPolicy", region="us-east-1")
    record = ct.record(
        "ModifyListener",
        "elasticloadbalancing.amazonaws.com",
        "us-east-1",
        ct.iam_user("bob"),
        {"listenerArn": lb.replace(":loadbalancer/", ":listener/") + "/f2f7dc8efc522ab2", "sslPolicy": "old"},
        when=T,
    )
    found = matcher.match([balancer], events(record))
    assert (found[1].event.event_name, found[1].confidence) == ("ModifyListener", "exact")


def test_lambda_events_match_under_their_versioned_names():
    arn = "arn:aws:lambda:us-east-1:123456789012:function:thumbs"
    function = target("lambda_function", arn, "FunctionUrlConfig.AuthType", region="us-east-1")
    record = ct.record(
        "UpdateFunctionUrlConfig",
        "lambda.amazonaws.com",
        "us-east-1",
        ct.iam_user("bob"),
        {"functionName": "thumbs", "authType": "NONE"},
        when=T,
    )
    found = matcher.match([function], events(record))
    assert (found[1].event.event_name, found[1].confidence) == ("UpdateFunctionUrlConfig", "exact")
    assert "UpdateFunctionConfiguration20150331v2" in catalogue.event_names("lambda_function", "Timeout", "changed")


def test_malformed_records_are_skipped_not_raised():
    assert (
        events({"eventName": "PutBucketAcl"}, {"eventTime": "yesterday", "eventName": "X"}, "not json", 7, None) == []
    )
    assert matcher.parse_record('{"eventName": "PutBucketAcl", "eventTime": "2026-11-29T14:02:11Z"}') is not None


# --- the catalogue, tested like the rules ----------------------------------------------------------------------


def _sample(pattern: str) -> str:
    return pattern.replace("[*]", "[#0123456789ab]").replace(".**", ".Key").replace(".*", ".Key")


@pytest.mark.parametrize(
    "rule", [r for r in RULES if r.resource_type != "*"], ids=lambda r: f"{r.resource_type}:{r.path}:{r.when}"
)
def test_every_rule_of_the_catalogue_knows_the_events_that_make_its_change(rule):
    assert catalogue.event_names(rule.resource_type, _sample(rule.path), catalogue.CHANGED)


@pytest.mark.parametrize("resource_type", sorted(catalogue.CATALOGUE))
def test_every_catalogued_type_knows_its_create_delete_and_tag_events(resource_type):
    assert catalogue.event_names(resource_type, "", catalogue.APPEARED)
    assert catalogue.event_names(resource_type, "", catalogue.DELETED)
    assert catalogue.event_names(resource_type, "Tags.team", catalogue.CHANGED)


def test_cloudtrail_event_names_are_not_the_attribute_names():
    assert catalogue.event_names("s3_bucket", "PublicAccessBlock.BlockPublicAcls", "changed") == {
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
    }
    assert catalogue.event_names("ec2_security_group", "IngressRules[#0123456789ab]", "changed") == {
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
        "ModifySecurityGroupRules",
        "UpdateSecurityGroupRuleDescriptionsIngress",
    }
    assert catalogue.event_names("iam_role", 'AttachedManagedPolicies["arn:aws:iam::aws:policy/X"]', "changed") == {
        "AttachRolePolicy",
        "DetachRolePolicy",
    }
    assert catalogue.event_names("kms_key", "KeyRotationEnabled", "changed") == {
        "EnableKeyRotation",
        "DisableKeyRotation",
    }
    # Tags of a bucket never come from a public access block call.
    assert "PutBucketPublicAccessBlock" not in catalogue.event_names("s3_bucket", "Tags.env", "changed")
