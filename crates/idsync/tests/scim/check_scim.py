#!/usr/bin/env python3
"""SCIM 2.0 compliance run of one endpoint, for idsync's test suite.

Discovers the server through scim2-client, runs every scim2-tester check
for the User and Group resource types (discovery, CRUD, PATCH add, remove
and replace, attribute selection), then the filter checks scim2-tester does
not have (``eq`` and ``and`` on the attributes Okta and Entra ID filter on).
Prints one line per check result, then a last line of JSON:
``{"passed": N, "failed": N, "skipped": N, "failures": [...]}``.

Exits 1 when any check fails or errors, and also when a check that must run
did not pass (skipped, or not run at all) or fewer than ``--min-passed``
checks passed, so a misconfigured run cannot look clean. Exits 2 on bad
arguments.

Usage: check_scim.py --url BASE_URL (or SCIM_URL), with the bearer token in
SCIM_TOKEN (or --token, which other users of the machine can see).
"""

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import SearchRequest
from scim2_tester import Status, check_server

RESOURCE_TYPES = ["User", "Group"]

PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# DEVIATION breaks a SHOULD of the RFCs: counted as a failure, as the issue
# asks for a clean run.
FAILING = {Status.ERROR, Status.CRITICAL, Status.DEVIATION}

# scim2-tester checks that must pass at least once for each resource type.
# POST /.search may be answered 501 (RFC 7644 §3.4.3), so search_with_attributes
# is not among them.
REQUIRED_PER_RESOURCE_TYPE = [
    "object_creation",
    "object_query",
    "object_query_without_id",
    "object_query_with_attributes",
    "object_list_with_attributes",
    "object_replacement",
    "object_deletion",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
]

# Discovery checks that must pass.
REQUIRED_DISCOVERY = [
    "service_provider_config_endpoint",
    "query_all_resource_types",
    "query_resource_type_by_id",
    "query_all_schemas",
    "access_schema_by_id",
    "random_url",
]

# Okta sends its filters with these paging parameters.
PAGE = {"startIndex": 1, "count": 100}


@dataclass
class Result:
    check: str
    resource_type: str | None
    status: str
    reason: str
    passed: bool
    skipped: bool

    @property
    def failed(self) -> bool:
        return not self.passed and not self.skipped

    def line(self) -> str:
        verdict = "PASS" if self.passed else "SKIP" if self.skipped else "FAIL"
        reason = " | ".join(self.reason.splitlines())
        resource = self.resource_type or "-"
        return f"{verdict} {self.status:<10} {resource:<5} {self.check}: {reason}"


def passed(check: str, resource_type: str | None, reason: str) -> Result:
    return Result(check, resource_type, "SUCCESS", reason, True, False)


def failed(check: str, resource_type: str | None, reason: str) -> Result:
    return Result(check, resource_type, "ERROR", reason, False, False)


def from_tester(result: Any) -> Result:
    return Result(
        check=result.title or "unnamed",
        resource_type=result.resource_type,
        status=result.status.name,
        reason=result.reason or "",
        passed=result.status in PASSING,
        skipped=result.status not in PASSING | FAILING,
    )


def scim_client(url: str, token: str) -> SyncSCIMClient:
    http = Client(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return SyncSCIMClient(http)


def discover(url: str, token: str) -> tuple[SyncSCIMClient | None, Result]:
    """Discovers the server as any scim2-client user does."""
    client = scim_client(url, token)
    try:
        client.discover()
    except Exception as exc:  # any failure to discover is the result
        return None, failed("discover", None, f"{type(exc).__name__}: {exc}")
    missing = [name for name in RESOURCE_TYPES if client.get_resource_model(name) is None]
    if missing:
        return None, failed("discover", None, f"no resource model for {', '.join(missing)}")
    config = client.provider.config
    if config is None or config.filter is None or not config.filter.supported:
        return None, failed(
            "discover", None, "the ServiceProviderConfig does not announce filter support"
        )
    if config.patch is None or not config.patch.supported:
        return None, failed(
            "discover", None, "the ServiceProviderConfig does not announce PATCH support"
        )
    return client, passed("discover", None, "User and Group discovered; filter and PATCH announced")


def is_int(value: Any) -> bool:
    return type(value) is int


def expect_ids(page: Any, expected: list[str]) -> str | None:
    """Why a raw list response is not exactly the `expected` resources, or None."""
    if not isinstance(page, dict):
        return f"not a ListResponse: {page!r}"
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        if key in page and not is_int(page[key]):
            return f"{key} is not an integer: {page[key]!r}"
    if not is_int(page.get("totalResults")):
        return "totalResults is missing"
    ids = [resource.get("id") for resource in page.get("Resources") or []]
    if page["totalResults"] != len(expected) or sorted(ids) != sorted(expected):
        return f"expected ids {expected}, got totalResults {page['totalResults']} and ids {ids}"
    return None


class FilterChecks:
    """Filters as Okta and Entra ID send them, on resources made for the purpose."""

    def __init__(self, client: SyncSCIMClient):
        self.client = client
        self.user_model = client.get_resource_model("User")
        self.group_model = client.get_resource_model("Group")
        self.created: list[tuple[Any, str]] = []

    def create(self, model: Any, payload: dict[str, Any]) -> Any:
        resource = self.client.create(model.model_validate(payload))
        self.created.append((model, resource.id))
        return resource

    def search(self, model: Any, filter: str, **params: Any) -> Any:
        request = SearchRequest(
            filter=filter, start_index=PAGE["startIndex"], count=PAGE["count"], **params
        )
        return self.client.query(
            model,
            query_parameters=request,
            check_response_payload=False,
            expected_status_codes=[200],
        )

    def check(
        self, name: str, resource_type: str, run: Callable[[], str | None], ok: str
    ) -> Result:
        try:
            problem = run()
        except Exception as exc:  # an unexpected answer is the check's failure
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            return passed(name, resource_type, ok)
        return failed(name, resource_type, problem)

    def run(self) -> list[Result]:
        tag = uuid.uuid4().hex[:12]
        user_name = f"Filter.Check.{tag}@example.com"
        external_id = f"ext-{tag}"
        email = f"filter-{tag}@example.org"
        try:
            user = self.create(
                self.user_model,
                {
                    "userName": user_name,
                    "externalId": external_id,
                    "emails": [{"value": email, "type": "work", "primary": True}],
                },
            )
            other = self.create(self.user_model, {"userName": f"other.{tag}@example.com"})
            display_name = f"Filter check {tag}"
            group = self.create(
                self.group_model,
                {"displayName": display_name, "members": [{"value": user.id}]},
            )
            self.create(self.group_model, {"displayName": f"Other group {tag}"})
        except Exception as exc:  # no fixtures, no filter checks: one failure says why
            self.cleanup()
            return [
                failed(
                    "filter_fixtures",
                    None,
                    f"cannot create the users and group to filter: {type(exc).__name__}: {exc}",
                )
            ]

        def users(filter: str, expected: list[str]) -> Callable[[], str | None]:
            return lambda: expect_ids(self.search(self.user_model, filter), expected)

        def group_without_members() -> str | None:
            page = self.search(
                self.group_model,
                f'displayName eq "{display_name}"',
                excluded_attributes=["members"],
            )
            problem = expect_ids(page, [group.id])
            if problem is None and "members" in page["Resources"][0]:
                problem = "excludedAttributes=members still returned members"
            return problem

        def group_with_members() -> str | None:
            page = self.search(self.group_model, f'displayName eq "{display_name}"')
            problem = expect_ids(page, [group.id])
            if problem is None:
                members = [m.get("value") for m in page["Resources"][0].get("members") or []]
                if members != [user.id]:
                    problem = f"expected members [{user.id}], got {members}"
            return problem

        try:
            return [
                self.check(
                    "filter_user_name_eq_ignores_case",
                    "User",
                    users(f'userName eq "{user_name.upper()}"', [user.id]),
                    "userName eq matched without regard to case",
                ),
                self.check(
                    "filter_external_id_eq",
                    "User",
                    users(f'externalId eq "{external_id}"', [user.id]),
                    "externalId eq matched",
                ),
                self.check(
                    "filter_emails_value_eq",
                    "User",
                    users(f'emails.value eq "{email}"', [user.id]),
                    "emails.value eq matched",
                ),
                self.check(
                    "filter_id_eq",
                    "User",
                    users(f'id eq "{other.id}"', [other.id]),
                    "id eq matched",
                ),
                self.check(
                    "filter_and",
                    "User",
                    users(
                        f'userName eq "{user_name}" and externalId eq "{external_id}"', [user.id]
                    ),
                    "and of two eq matched",
                ),
                self.check(
                    "filter_and_excludes",
                    "User",
                    users(f'userName eq "{user_name}" and externalId eq "not-{external_id}"', []),
                    "and with one false side matched nothing",
                ),
                self.check(
                    "filter_no_match",
                    "User",
                    users(f'userName eq "absent.{tag}@example.com"', []),
                    "an absent userName gave an empty list",
                ),
                self.check(
                    "filter_display_name_eq",
                    "Group",
                    group_with_members,
                    "displayName eq matched, with its member",
                ),
                self.check(
                    "filter_display_name_eq_excluding_members",
                    "Group",
                    group_without_members,
                    "displayName eq with excludedAttributes=members matched, without members",
                ),
            ]
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        for model, id in reversed(self.created):
            try:
                self.client.delete(model, id)
            except Exception:  # best effort: a failed delete is not this check's subject
                pass
        self.created.clear()


def coverage(results: list[Result], min_passed: int) -> list[Result]:
    """Failures for checks that should have passed but did not run or were skipped."""
    passing = {(r.check, r.resource_type) for r in results if r.passed}
    problems = []
    for check in REQUIRED_DISCOVERY:
        if (check, None) not in passing:
            problems.append(failed("coverage", None, f"{check} did not pass (skipped or not run)"))
    for resource_type in RESOURCE_TYPES:
        for check in REQUIRED_PER_RESOURCE_TYPE:
            if (check, resource_type) not in passing:
                problems.append(
                    failed("coverage", resource_type, f"{check} did not pass (skipped or not run)")
                )
    count = sum(r.passed for r in results)
    if count < min_passed:
        problems.append(
            failed(
                "coverage",
                None,
                f"only {count} checks passed, fewer than the {min_passed} expected",
            )
        )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("SCIM_URL"), help="SCIM base URL (or SCIM_URL)"
    )
    parser.add_argument(
        "--token", default=os.environ.get("SCIM_TOKEN"), help="bearer token (or SCIM_TOKEN)"
    )
    parser.add_argument(
        "--min-passed",
        type=int,
        default=40,
        help="fail when fewer checks pass (default 40)",
    )
    args = parser.parse_args()
    if not args.url or not args.token:
        parser.error(
            "the base URL (--url or SCIM_URL) and the token (SCIM_TOKEN or --token) are required"
        )

    client, discovered = discover(args.url, args.token)
    results = [discovered]
    results += [
        from_tester(r)
        for r in check_server(scim_client(args.url, args.token), resource_types=RESOURCE_TYPES)
    ]
    if client is not None:
        results += FilterChecks(client).run()
    results += coverage(results, args.min_passed)

    for result in results:
        print(result.line())
    failures = [
        {
            "check": r.check,
            "resource_type": r.resource_type,
            "status": r.status,
            "reason": r.reason,
        }
        for r in results
        if r.failed
    ]
    summary = {
        "passed": sum(r.passed for r in results),
        "failed": len(failures),
        "skipped": sum(r.skipped for r in results),
        "failures": failures,
    }
    print(json.dumps(summary))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
