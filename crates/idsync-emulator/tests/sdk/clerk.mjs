// Drives Clerk's official Node SDK (@clerk/backend) against the emulator.
import { createClerkClient } from "@clerk/backend";
import { check, checkOnce, env, run } from "./common.mjs";

const PAGE = 4;
const clerk = createClerkClient({ secretKey: env("EMULATOR_API_KEY"), apiUrl: env("EMULATOR_URL") });

/** Every user, page by page, by offset. */
async function listAll(orderBy) {
  const ids = [];
  for (;;) {
    const { data } = await clerk.users.getUserList({ limit: PAGE, offset: ids.length, orderBy });
    ids.push(...data.map((u) => u.id));
    if (data.length < PAGE) return ids;
  }
}

run(async () => {
  const before = await listAll("+created_at");
  checkOnce(before, "ascending paging");
  const desc = await listAll("-created_at");
  check(JSON.stringify(desc) === JSON.stringify([...before].reverse()), "desc is not asc reversed");
  const count = await clerk.users.getCount();

  const known = await clerk.users.getUser(before[0]);
  check(known.id === before[0], `getUser(known) gave ${known.id}`);
  const status = await clerk.users.getUser("user_unknown").then(
    () => 200,
    (error) => error.status,
  );
  check(status === 404, `getUser(unknown) answered ${status}`);

  const created = await clerk.users.createUser({
    emailAddress: [`sdk.${Date.now()}@example.com`],
    firstName: "Zoë",
    lastName: "SDK",
  });
  check(created.primaryEmailAddress?.emailAddress.startsWith("sdk."), "primary email");
  check((await listAll("-created_at")).includes(created.id), "created user not listed");

  const updated = await clerk.users.updateUser(created.id, { lastName: "Renamed" });
  check(updated.lastName === "Renamed", `updated name is ${updated.lastName}`);

  const deleted = await clerk.users.deleteUser(created.id);
  check(deleted.id === created.id && deleted.deleted === true, "delete answer");
  const after = await listAll("+created_at");
  check(!after.includes(created.id), "deleted user still listed");

  return { before, count, created: created.id, after };
});
