"""The benchmark's pure helpers: percentiles, how captured SQL splits into floors, and the table."""

from bench import api, report, stats


def test_percentile_is_nearest_rank():
    samples = [0.005, 0.001, 0.004, 0.002, 0.003]
    assert stats.percentile(samples, 50) == 0.003
    assert stats.percentile(samples, 95) == 0.005
    assert stats.percentile(samples, 0) == 0.001


def test_list_floor_keeps_the_page_query_and_drops_total_auth_and_savepoints():
    queries = [
        'SELECT "driftwatch_apitoken"."id" FROM "driftwatch_apitoken" WHERE key_hash = \'x\' LIMIT 1',
        'SELECT SUM("drifts_driftcount"."n") AS "n" FROM "drifts_driftcount"',
        'SELECT "drifts_drift"."id" FROM "drifts_drift" ORDER BY "drifts_drift"."detected_at" DESC LIMIT 20',
        'SAVEPOINT "s1"',
        "BEGIN",
        "ROLLBACK",
    ]
    parts = api.floors(queries, is_list=True)
    assert parts["rows"] == [queries[2]]
    assert parts["data"] == [queries[1], queries[2]]
    assert parts["all"] == queries[:3]
    assert parts["count"] == [queries[1]]


def test_summary_floor_is_its_counting_query():
    queries = ['SELECT COUNT("drifts_drift"."id") AS "total" FROM "drifts_drift"']
    assert api.floors(queries, is_list=False)["rows"] == queries


def test_table_marks_a_missed_goal():
    results = {
        "scan": {
            "seed": {"buckets": 10, "security_groups": 5, "roles": 2},
            "scan": {"seconds": 3.0, "calls_per_resource": 5.0, "calls": 85, "resources": 17},
            "floor": {"seconds": 2.0, "threads": 8},
            "ratio": 1.5,
        }
    }
    text = report.table(results)
    assert "| 1.50x |" in text
    assert "<= 1.3x MISSED" in text


def test_table_lists_calls_per_resource_of_each_type():
    results = {
        "scan": {
            "seed": {"buckets": 10, "security_groups": 5, "roles": 2, "estate_scale": 1},
            "scan": {
                "seconds": 3.0,
                "calls_per_resource": 5.0,
                "calls": 85,
                "resources": 17,
                "calls_per_resource_by_type": {
                    "lambda_function": {"calls": 4, "resources": 1, "per_resource": 4.0},
                    "sqs_queue": {"calls": 5, "resources": 2, "per_resource": 2.5},
                },
            },
            "floor": {"seconds": 2.8, "threads": 8},
            "ratio": 1.07,
        }
    }
    assert "demo estate x1 (every type)" in report.table(results)
    rows = [row[1:4] for row in report.rows(results)]
    assert ("  calls per resource: lambda_function", "4.00", "4 calls, 1 resources") in rows
    assert ("  calls per resource: sqs_queue", "2.50", "5 calls, 2 resources") in rows
