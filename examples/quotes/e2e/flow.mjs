// The browser test of the quotes app: Debian's Chromium, driven by
// playwright-core, clicks through the guide's flow against a real OpenID
// Provider (oidc-provider, see provider.mjs) and checks Postgres with psql
// along the way. Started by the Rust test tests/browser.rs, which starts
// Postgres, the provider and the app and passes:
//
//   APP_URL       the app's base URL (AUTH_URL)
//   DATABASE_URL  the app's database
//   PSQL          the psql binary of that server
//   ARTIFACTS     where to save the screenshot
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
const DATABASE_URL = env('DATABASE_URL');
const PSQL = env('PSQL');
const ARTIFACTS = env('ARTIFACTS');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const started = Date.now();
const step = (what) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${what}`);

/** One value (unaligned, no headers) from the app's database. */
function sql(query) {
  return execFileSync(PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', DATABASE_URL, '-c', query], {
    encoding: 'utf8',
  }).trim();
}

const QUOTE = 'The more I study, the more insatiable do I feel my genius for it. — Ada Lovelace';

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
try {

  step('signed out: the login box');
  await page.goto(APP);
  await page.locator('#login-box').waitFor();
  assert.equal(sql('SELECT count(*) FROM neon_identity.users_sync'), '0');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'quotes-signed-out.png') });

  step('Log in: to the provider');
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.locator('input[name="login"]').waitFor();
  assert.ok(!page.url().startsWith(APP), `still on the app: ${page.url()}`);

  step('sign in at the provider');
  await page.fill('input[name="login"]', 'ada');
  await page.fill('input[name="password"]', 'any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();

  step('consent');
  await page.getByRole('button', { name: 'Continue' }).click();

  step('back on the app: Welcome');
  await page.getByText('Welcome, Ada Lovelace!').waitFor();
  assert.equal(new URL(page.url()).origin, new URL(APP).origin);
  const session = (await context.cookies(APP)).find((c) => c.name === 'idsync_session');
  assert.ok(session, 'no session cookie');
  assert.ok(session.httpOnly, 'session cookie not HttpOnly');
  assert.equal(session.sameSite, 'Lax');

  step('JIT: the user is in neon_identity.users_sync');
  assert.equal(sql("SELECT email FROM neon_identity.users_sync WHERE id = 'ada' AND deleted_at IS NULL"), 'ada@example.com');
  assert.equal(sql("SELECT name FROM neon_identity.users_sync WHERE id = 'ada'"), 'Ada Lovelace');

  const shot = join(ARTIFACTS, 'quotes-signed-in.png');
  await page.screenshot({ path: shot, fullPage: true });
  step(`screenshot: ${shot}`);

  step('save a quote');
  await page.fill('textarea[name="message"]', QUOTE);
  await page.getByRole('button', { name: 'Save quote' }).click();
  await page.locator('#saved-quote').waitFor();
  assert.equal((await page.locator('#saved-quote').innerText()).trim(), QUOTE);
  assert.equal(sql("SELECT message FROM user_messages WHERE user_id = 'ada'"), QUOTE);

  step('reload: the quote is still there');
  await page.reload();
  assert.equal((await page.locator('#saved-quote').innerText()).trim(), QUOTE);
  await page.screenshot({ path: join(ARTIFACTS, 'quotes-saved.png'), fullPage: true });

  step('a tampered session cookie is not accepted');
  {
    const tampered = await browser.newContext();
    const value = session.value;
    const i = Math.floor(value.length / 2);
    const flipped = value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
    await tampered.addCookies([{ ...session, value: flipped }]);
    const p = await tampered.newPage();
    await p.goto(APP);
    await p.locator('#login-box').waitFor();
    assert.equal(await p.getByText('Welcome').count(), 0);
    // A save with it is refused and writes nothing.
    const res = await p.request.post(`${APP}/quote`, { form: { message: 'forged' }, headers: { origin: new URL(APP).origin } });
    assert.equal(res.status(), 401);
    assert.equal(sql("SELECT message FROM user_messages WHERE user_id = 'ada'"), QUOTE);
    await tampered.close();
  }

  step('delete the quote');
  await page.getByRole('button', { name: 'Delete quote' }).click();
  await page.getByRole('button', { name: 'Save quote' }).waitFor();
  assert.equal(await page.locator('#saved-quote').count(), 0);
  assert.equal(sql("SELECT count(*) FROM user_messages WHERE user_id = 'ada'"), '0');

  step('sign out: the app, then the provider');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();
  await page.locator('#login-box').waitFor();
  assert.equal(new URL(page.url()).origin, new URL(APP).origin);
  assert.ok(!(await context.cookies(APP)).some((c) => c.name === 'idsync_session'), 'session cookie kept');

  step('signing in again asks for the password again (the provider session ended)');
  await page.getByRole('link', { name: 'Log in' }).click();
  await page.locator('input[name="login"]').waitFor();

  step('all steps passed');
} catch (e) {
  // Show where it stopped: the page as a picture and as text.
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'quotes-failure.png'), fullPage: true }).catch(() => {});
  console.error(`failed on ${page.url()}:\n${await page.locator('body').innerText().catch(() => '?')}`);
  throw e;
} finally {
  await browser.close();
}
