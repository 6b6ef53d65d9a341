// Drives Stack Auth's official server SDK against the emulator. The SDK
// package is the first argument (`@stackframe/js`, or the alias of an
// older version), so one script tests every pinned version.
import { check, checkOnce, env, run } from "./common.mjs";

const PAGE = 4;
const { StackServerApp } = await import(process.argv[2]);

// A new app per phase, so the SDK's caches cannot answer for the server.
const app = () =>
  new StackServerApp({
    baseUrl: env("EMULATOR_URL"),
    projectId: env("EMULATOR_PROJECT_ID"),
    secretServerKey: env("EMULATOR_API_KEY"),
    tokenStore: "memory",
  });

/** Every user, page by page, following the cursor. */
async function listAll(desc) {
  const ids = [];
  let cursor;
  const server = app();
  for (;;) {
    const page = await server.listUsers({ limit: PAGE, cursor, orderBy: "signedUpAt", desc });
    check(page.length <= PAGE, `page of ${page.length} > ${PAGE}`);
    ids.push(...page.map((u) => u.id));
    if (!page.nextCursor) return ids;
    cursor = page.nextCursor;
  }
}

run(async () => {
  const before = await listAll(false);
  checkOnce(before, "ascending paging");
  const desc = await listAll(true);
  check(JSON.stringify(desc) === JSON.stringify([...before].reverse()), "desc is not asc reversed");

  const known = await app().getUser(before[0]);
  check(known?.id === before[0], `getUser(known) gave ${known?.id}`);
  const unknown = await app().getUser("00000000-0000-4000-8000-000000000000");
  check(unknown === null, "getUser(unknown) is not null");

  const created = await app().createUser({
    primaryEmail: `sdk.${Date.now()}@example.com`,
    primaryEmailAuthEnabled: true,
    displayName: "Zoë SDK",
  });
  check(created.displayName === "Zoë SDK", "created user's name");
  check((await listAll(false)).includes(created.id), "created user not listed");

  await created.update({ displayName: "Zoë Renamed" });
  const updated = await app().getUser(created.id);
  check(updated?.displayName === "Zoë Renamed", `updated name is ${updated?.displayName}`);

  await updated.delete();
  check((await app().getUser(created.id)) === null, "deleted user still found");
  const after = await listAll(false);
  check(!after.includes(created.id), "deleted user still listed");

  return { before, count: before.length, created: created.id, after };
});
