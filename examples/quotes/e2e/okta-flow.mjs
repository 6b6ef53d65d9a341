// The quotes app signing a user in against the emulated Okta org (the
// emulator's org authorization server), in Debian's Chromium driven by
// playwright-core. Started by crates/idsync/tests/quotes_okta.rs, which
// starts Postgres, the Okta emulator, `idsync serve` with the event hook
// registered by `idsync connect`, and the app, and passes:
//
//   APP_URL       the app's base URL (AUTH_URL)
//   OKTA_URL      the emulated org's URL (AUTH_OKTA_ISSUER)
//   DATABASE_URL  the database of the app and of idsync
//   PSQL          the psql binary of that server
//   ARTIFACTS     where to save the screenshots
//   LOGIN, PASSWORD, USER_ID   the Okta user who signs in
//
// Exits 0 when every step passed; prints each step with its time.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const APP = env('APP_URL');
const OKTA = env('OKTA_URL');
const DATABASE_URL = env('DATABASE_URL');
const PSQL = env('PSQL');
const ARTIFACTS = env('ARTIFACTS');
const LOGIN = env('LOGIN');
const PASSWORD = env('PASSWORD');
const USER_ID = env('USER_ID');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const started = Date.now();
const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);

/** One value (unaligned, no headers) from the database. */
function sql(query) {
  return execFileSync(PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', DATABASE_URL, '-c', query], {
    encoding: 'utf8',
  }).trim();
}

const QUOTE = 'That brain of mine is something more than merely mortal; as time will show. — Ada Lovelace';

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-quic',
    '--no-first-run',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const context = await browser.newContext();
context.setDefaultTimeout(30_000);
const page = await context.newPage();
mkdirSync(ARTIFACTS, { recursive: true });
try {
  step('signed out: the login box');
  await page.goto(APP);
  await page.locator('#login-box').waitFor();

  step('Log in: to the emulated Okta sign-in page');
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.locator('input[name="username"]').waitFor();
  assert.ok(page.url().startsWith(`${OKTA}/oauth2/v1/authorize?`), `not at Okta's authorize: ${page.url()}`);
  await page.screenshot({ path: join(ARTIFACTS, 'quotes-okta-sign-in.png') });

  step('a wrong password is refused at Okta');
  await page.fill('input[name="username"]', LOGIN);
  await page.fill('input[name="password"]', 'not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Unable to sign in').waitFor();
  assert.ok(page.url().startsWith(OKTA), `left Okta: ${page.url()}`);

  step('sign in at Okta');
  await page.fill('input[name="password"]', PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();

  step('back on the app: Welcome');
  await page.getByText('Welcome, Ada Lovelace!').waitFor();
  assert.equal(new URL(page.url()).origin, new URL(APP).origin);

  step("just-in-time sync: the row is the ID token's claims, keyed by the Okta user id");
  const row = JSON.parse(
    sql(
      `SELECT json_build_object('name', name, 'email', email, 'raw', raw_json)
         FROM neon_identity.users_sync WHERE id = '${USER_ID}' AND deleted_at IS NULL`,
    ),
  );
  assert.equal(row.name, 'Ada Lovelace');
  assert.equal(row.email, LOGIN);
  // Only the login layer writes claims (sub, preferred_username, idp);
  // idsync writes Okta's user object (id, status, profile).
  assert.equal(row.raw.sub, USER_ID);
  assert.equal(row.raw.preferred_username, LOGIN);
  assert.equal(row.raw.iss, OKTA);
  assert.ok(row.raw.idp.startsWith('00o'), `idp ${row.raw.idp}`);
  assert.equal(row.raw.profile, undefined);

  step('save a quote');
  await page.fill('textarea[name="message"]', QUOTE);
  await page.getByRole('button', { name: 'Save quote' }).click();
  await page.locator('#saved-quote').waitFor();
  assert.equal((await page.locator('#saved-quote').innerText()).trim(), QUOTE);
  assert.equal(sql(`SELECT message FROM user_messages WHERE user_id = '${USER_ID}'`), QUOTE);
  await page.screenshot({ path: join(ARTIFACTS, 'quotes-okta-saved.png'), fullPage: true });

  step('sign out: the app, then the Okta session (logout with id_token_hint), back to the app');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator('#login-box').waitFor();
  assert.ok(!(await context.cookies(APP)).some((c) => c.name === 'idsync_session'), 'session cookie kept');
  assert.equal(new URL(page.url()).origin, new URL(APP).origin);

  step('signing in again asks for the password again (the Okta session ended)');
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.locator('input[name="password"]').waitFor();
  assert.ok(page.url().startsWith(OKTA), `not at Okta: ${page.url()}`);

  step('all steps passed');
} catch (e) {
  await page.screenshot({ path: join(ARTIFACTS, 'quotes-okta-failure.png'), fullPage: true }).catch(() => {});
  console.error(`failed on ${page.url()}:\n${await page.locator('body').innerText().catch(() => '?')}`);
  throw e;
} finally {
  await browser.close();
}
