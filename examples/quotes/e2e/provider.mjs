// A development OpenID Provider: the npm package `oidc-provider` with one
// static client for the quotes app, its built-in login and consent pages
// (devInteractions: any login and password are accepted; the login becomes
// the user's `sub`), RP-initiated logout, and a fresh signing key per run.
//
// Used by dev-provider.mjs (local development) and by the browser test.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

/** Known users; any other login gets a generated profile. */
const USERS = {
  ada: { name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', email: 'ada@example.com' },
  grace: { name: 'Grace Hopper', given_name: 'Grace', family_name: 'Hopper', email: 'grace@example.com' },
};

function profile(login) {
  const known = USERS[login];
  if (known) return known;
  const name = login.charAt(0).toUpperCase() + login.slice(1);
  return { name, given_name: name, email: `${login}@example.com` };
}

/**
 * Starts the provider on `host:port` (port 0: any free port).
 * `appUrls` are the applications' base URLs (e.g. http://localhost:3000):
 * each gets the callback paths /api/auth/callback/okta and
 * /api/auth/callback/oidc, and is allowed as post-logout redirect.
 * Resolves to { issuer, close }.
 */
export async function startProvider({
  host = '127.0.0.1',
  issuerHost = host,
  port = 0,
  appUrls = ['http://localhost:3000'],
  clientId = 'quotes-local',
  clientSecret = 'quotes-local-secret',
} = {}) {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const issuer = `http://${issuerHost}:${server.address().port}`;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'dev-1', use: 'sig', alg: 'RS256' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: appUrls.flatMap((u) => [`${u}/api/auth/callback/okta`, `${u}/api/auth/callback/oidc`]),
        post_logout_redirect_uris: appUrls,
        response_types: ['code'],
        grant_types: ['authorization_code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email_verified: true, ...profile(id) };
        },
      };
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
  });
  server.on('request', provider.callback());

  return {
    issuer,
    clientId,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
