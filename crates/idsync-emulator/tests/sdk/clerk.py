"""Drives Clerk's official Python SDK (clerk-backend-api) against the emulator."""

import json
import os
import time

from clerk_backend_api import Clerk, models

PAGE = 4


def list_all(clerk: Clerk, order_by: str) -> list[str]:
    """Every user, page by page, by offset."""
    ids: list[str] = []
    while True:
        page = clerk.users.list(request={"limit": PAGE, "offset": len(ids), "order_by": order_by})
        ids.extend(u.id for u in page)
        if len(page) < PAGE:
            return ids


def main() -> None:
    url = os.environ["EMULATOR_URL"]
    with Clerk(bearer_auth=os.environ["EMULATOR_API_KEY"], server_url=f"{url}/v1") as clerk:
        before = list_all(clerk, "+created_at")
        assert len(set(before)) == len(before), f"ascending paging lists a user twice: {before}"
        desc = list_all(clerk, "-created_at")
        assert desc == before[::-1], "desc is not asc reversed"
        count = clerk.users.count().total_count

        known = clerk.users.get(user_id=before[0])
        assert known.id == before[0], f"get(known) gave {known.id}"
        try:
            clerk.users.get(user_id="user_unknown")
            raise AssertionError("get(unknown) did not fail")
        except models.ClerkErrors as error:
            assert error.raw_response.status_code == 404, error
            assert error.data.errors[0].code == "resource_not_found", error

        created = clerk.users.create(
            email_address=[f"sdk.{time.time_ns()}@example.com"], first_name="Zoë", last_name="SDK"
        )
        address = created.email_addresses[0]
        assert address.id == created.primary_email_address_id, "primary email"
        assert address.verification.strategy == "admin", address.verification
        assert created.id in list_all(clerk, "-created_at"), "created user not listed"

        updated = clerk.users.update(user_id=created.id, last_name="Renamed")
        assert updated.last_name == "Renamed", f"updated name is {updated.last_name}"

        deleted = clerk.users.delete(user_id=created.id)
        assert deleted.id == created.id and deleted.deleted, f"delete answer {deleted}"
        after = list_all(clerk, "+created_at")
        assert created.id not in after, "deleted user still listed"

    print(json.dumps({"before": before, "count": count, "created": created.id, "after": after}))


if __name__ == "__main__":
    main()
