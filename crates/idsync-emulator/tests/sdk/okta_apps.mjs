// Okta's official Node SDK (@okta/okta-sdk-nodejs) against the emulator's
// Groups and Apps APIs, as `idsync create-app` uses them: find groups, create
// an OIDC web app, find it again by label, read its client secret, assign it
// to a group and list the assignment.
import okta from "@okta/okta-sdk-nodejs";
import { check, env, run } from "./common.mjs";

const client = new okta.Client({ orgUrl: env("EMULATOR_URL"), token: env("EMULATOR_API_KEY") });
const groups = client.groupApi;
const apps = client.applicationApi;

async function all(collection) {
  const items = [];
  for await (const item of await collection) items.push(item);
  return items;
}

run(async () => {
  const listed = await all(groups.listGroups({ limit: 2 }));
  const everyone = await all(groups.listGroups({ q: "Everyone" }));
  const builtIn = await all(groups.listGroups({ filter: 'type eq "BUILT_IN"' }));
  check(everyone.length === 1, `q=Everyone gave ${everyone.length} groups`);
  const engineering = (await all(groups.listGroups({ q: "Eng" })))[0];
  const members = await all(groups.listGroupUsers({ groupId: engineering.id }));

  const created = await apps.createApplication({
    activate: true,
    application: {
      name: "oidc_client",
      label: "SDK quotes",
      signOnMode: "OPENID_CONNECT",
      credentials: { oauthClient: { token_endpoint_auth_method: "client_secret_basic" } },
      settings: {
        oauthClient: {
          application_type: "web",
          redirect_uris: ["http://localhost:3000/api/auth/callback/okta"],
          post_logout_redirect_uris: ["http://localhost:3000"],
          response_types: ["code"],
          grant_types: ["authorization_code"],
        },
      },
    },
  });
  const found = await all(apps.listApplications({ q: "SDK q" }));
  const read = await apps.getApplication({ appId: created.id });
  const secrets = await all(client.applicationSSOPublicKeysApi.listOAuth2ClientSecrets({ appId: created.id }));
  const assignment = await apps.assignGroupToApplication({
    appId: created.id,
    groupId: engineering.id,
    applicationGroupAssignment: {},
  });
  const assignments = await all(apps.listApplicationGroupAssignments({ appId: created.id }));

  return {
    listedNames: listed.map((g) => g.profile.name),
    everyone: { id: everyone[0].id, type: everyone[0].type, created: everyone[0].created instanceof Date },
    builtIn: builtIn.map((g) => g.id),
    engineering: { id: engineering.id, name: engineering.profile.name, type: engineering.type },
    members: members.map((u) => u.id),
    created: {
      id: created.id,
      className: created.constructor.name,
      signOnMode: created.signOnMode,
      clientId: created.credentials.oauthClient.client_id,
      clientSecret: created.credentials.oauthClient.client_secret,
      redirectUris: created.settings.oauthClient.redirect_uris,
      postLogoutRedirectUris: created.settings.oauthClient.post_logout_redirect_uris,
      grantTypes: created.settings.oauthClient.grant_types,
      applicationType: created.settings.oauthClient.application_type,
    },
    found: found.map((a) => a.id),
    readSecret: read.credentials.oauthClient.client_secret ?? null,
    readLabel: read.label,
    secrets: secrets.map((s) => ({ status: s.status, clientSecret: s.client_secret })),
    assignment: { id: assignment.id, priority: assignment.priority },
    assignments: assignments.map((a) => a.id),
  };
});
