// Drives Okta's official Node SDK (@okta/okta-sdk-nodejs) against the
// emulator, configured only as the SDK documents: `orgUrl` is the
// emulator's address and `token` its SSWS API token. (This SDK version
// accepts a plain http org URL, so no testing option is needed.)
import okta from "@okta/okta-sdk-nodejs";
import { check, checkOnce, env, run } from "./common.mjs";

const PAGE = 4;
const UNKNOWN = "00uunknown0000000000";
const client = new okta.Client({ orgUrl: env("EMULATOR_URL"), token: env("EMULATOR_API_KEY") });
const users = client.userApi;

/** Every user the list gives, through the SDK's collection, which
 * follows the `link: rel="next"` headers page by page. */
async function listAll(params = {}) {
  const ids = [];
  for await (const user of await users.listUsers({ limit: PAGE, ...params })) {
    check(user.profile?.login?.includes("@"), `user ${user.id} has no login`);
    ids.push(user.id);
  }
  return ids;
}

/** What a request failed with: the HTTP status and Okta's error code. */
const failure = (promise) =>
  promise.then(
    () => ({ status: 200 }),
    (error) => ({ status: error.status, errorCode: error.errorCode ?? null }),
  );

run(async () => {
  const before = await listAll();
  checkOnce(before, "paging");

  const known = await users.getUser({ userId: before[0] });
  check(known.id === before[0], `getUser(known) gave ${known.id}`);
  check(known.created instanceof Date, `created is ${known.created}`);
  const unknown = await failure(users.getUser({ userId: UNKNOWN }));

  const login = `sdk.${Date.now()}@example.com`;
  const created = await users.createUser({
    body: {
      profile: { firstName: "Zoë", lastName: "SDK", email: login, login },
      credentials: { password: { value: "correct horse battery staple" } },
    },
    activate: true,
  });
  check(created.status === "ACTIVE", `created user is ${created.status}`);
  check(created.profile.login === login, `created login is ${created.profile.login}`);
  const listedCreated = (await listAll()).includes(created.id);

  const updated = await users.updateUser({
    userId: created.id,
    user: { profile: { lastName: "Renamed" } },
  });
  check(updated.profile.lastName === "Renamed", `updated name is ${updated.profile.lastName}`);
  check(updated.profile.firstName === "Zoë", "a partial update lost the first name");

  await users.deactivateUser({ userId: created.id });
  const deactivated = await users.getUser({ userId: created.id });
  const listedDeactivated = (await listAll()).includes(created.id);
  const deprovisioned = await listAll({ filter: 'status eq "DEPROVISIONED"' });

  await users.deleteUser({ userId: created.id });
  const gone = await failure(users.getUser({ userId: created.id }));
  const after = await listAll();

  return {
    before,
    count: before.length,
    known: known.id,
    unknown,
    created: created.id,
    listedCreated,
    updatedLastName: updated.profile.lastName,
    deactivatedStatus: deactivated.status,
    listedDeactivated,
    deprovisionedListed: deprovisioned.includes(created.id),
    gone,
    after,
  };
});
