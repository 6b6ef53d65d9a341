#!/usr/bin/env node
// Runs the development OpenID Provider (see provider.mjs) for trying the
// quotes app locally without Okta:
//
//   npm ci --prefix examples/quotes/e2e      # once
//   node examples/quotes/e2e/dev-provider.mjs
//
// then, in another terminal, run the app with the variables it prints.
// Options: --port (4000), --host (127.0.0.1, the address to listen on),
// --issuer-host (localhost), --app-url (http://localhost:3000; repeatable),
// --client-id, --client-secret.
//
// The first line printed is `issuer=<URL>`, for scripts.

import { parseArgs } from 'node:util';

import { startProvider } from './provider.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4000' },
    host: { type: 'string', default: '127.0.0.1' },
    'issuer-host': { type: 'string', default: 'localhost' },
    'app-url': { type: 'string', multiple: true, default: ['http://localhost:3000'] },
    'client-id': { type: 'string', default: 'quotes-local' },
    'client-secret': { type: 'string', default: 'quotes-local-secret' },
  },
});

const appUrls = values['app-url'].map((u) => u.replace(/\/+$/, ''));
const provider = await startProvider({
  host: values.host,
  issuerHost: values['issuer-host'],
  port: Number(values.port),
  appUrls,
  clientId: values['client-id'],
  clientSecret: values['client-secret'],
});

console.log(`issuer=${provider.issuer}`);
console.log(`
Development OpenID Provider running at ${provider.issuer}
Any login and password are accepted ("ada" is Ada Lovelace <ada@example.com>).
Allowed redirects: ${appUrls.map((u) => `${u}/api/auth/callback/{okta,oidc}`).join(', ')}

Run the app with:
  AUTH_SECRET="$(openssl rand -base64 33)" \\
  AUTH_OIDC_ISSUER=${provider.issuer} \\
  AUTH_OIDC_ID=${values['client-id']} \\
  AUTH_OIDC_SECRET=${values['client-secret']} \\
  cargo run -p quotes
and open ${appUrls[0]}
`);

const stop = async () => {
  await provider.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
