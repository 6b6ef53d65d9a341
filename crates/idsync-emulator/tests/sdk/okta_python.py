"""Drives Okta's official Python SDK (PyPI `okta`) against the emulator.

The client is configured as the SDK documents, with the emulator's address
as `orgUrl` and its SSWS API token as `token`. The emulator serves plain
http on loopback, which this SDK refuses unless its own testing switch
`okta.testing.testingDisableHttpsCheck` is set (read from the environment
as `OKTA_TESTING_TESTINGDISABLEHTTPSCHECK`, or from okta.yaml).
"""

import asyncio
import json
import os
import time

from okta.client import Client
from okta.models import CreateUserRequest, UpdateUserRequest
from okta.pagination import PaginationHelper

PAGE = 4
UNKNOWN = "00uunknown0000000000"


async def list_all(method, **params) -> list:
    """Every item a list gives, page by page, following the `after` cursor
    of each answer's `link: rel="next"` header, as the SDK's pagination does."""
    items, after = [], None
    while True:
        page, response, error = await method(limit=PAGE, after=after, **params)
        assert error is None, f"list failed: {error}"
        items.extend(page or [])
        after = PaginationHelper.extract_next_cursor(response.headers)
        if after is None:
            return items


async def failure(call) -> dict:
    """What a request failed with: the HTTP status and Okta's error code."""
    error = (await call)[-1]
    if error is None:
        return {"status": 200}
    return {"status": error.status, "errorCode": getattr(error, "error_code", None)}


async def main() -> dict:
    os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"
    client = Client({"orgUrl": os.environ["EMULATOR_URL"], "token": os.environ["EMULATOR_API_KEY"]})
    users = await list_all(client.list_users)
    before = [u.id for u in users]
    assert len(set(before)) == len(before), f"paging lists a user twice: {before}"
    assert all("@" in u.profile.login for u in users), "a user has no login"

    known, _, error = await client.get_user(before[0])
    assert error is None, error
    assert known.id == before[0], f"get_user(known) gave {known.id}"
    assert known.created is not None and known.last_updated is not None, known
    unknown = await failure(client.get_user(UNKNOWN))

    login = f"sdk.{time.time_ns()}@example.com"
    body = CreateUserRequest.from_dict(
        {
            "profile": {"firstName": "Zoë", "lastName": "SDK", "email": login, "login": login},
            "credentials": {"password": {"value": "correct horse battery staple"}},
        }
    )
    created, _, error = await client.create_user(body, activate=True)
    assert error is None, error
    assert created.status.value == "ACTIVE", f"created user is {created.status}"
    assert created.profile.login == login, f"created login is {created.profile.login}"
    listed_created = created.id in [u.id for u in await list_all(client.list_users)]

    change = UpdateUserRequest.from_dict({"profile": {"lastName": "Renamed"}})
    updated, _, error = await client.update_user(created.id, change)
    assert error is None, error
    assert updated.profile.first_name == "Zoë", "a partial update lost the first name"

    _, _, error = await client.deactivate_user(created.id)
    assert error is None, error
    deactivated, _, error = await client.get_user(created.id)
    assert error is None, error
    listed_deactivated = created.id in [u.id for u in await list_all(client.list_users)]
    deprovisioned = await list_all(client.list_users, filter='status eq "DEPROVISIONED"')

    _, _, error = await client.delete_user(created.id)
    assert error is None, error
    gone = await failure(client.get_user(created.id))
    after = [u.id for u in await list_all(client.list_users)]

    groups = await list_all(client.list_groups)
    apps = await list_all(client.list_applications)

    return {
        "before": before,
        "count": len(before),
        "known": known.id,
        "unknown": unknown,
        "created": created.id,
        "listedCreated": listed_created,
        "updatedLastName": updated.profile.last_name,
        "deactivatedStatus": deactivated.status.value,
        "listedDeactivated": listed_deactivated,
        "deprovisionedListed": created.id in [u.id for u in deprovisioned],
        "gone": gone,
        "after": after,
        # A group's profile is one of the SDK's group profile kinds.
        "groups": [
            {"id": g.id, "name": g.profile.actual_instance.name, "type": g.type.value} for g in groups
        ],
        "apps": [{"id": a.id, "label": a.label, "signOnMode": a.sign_on_mode.value} for a in apps],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
