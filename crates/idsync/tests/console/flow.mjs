// Clicks through the idsync console in headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; no browser is downloaded).
// Run by browser.rs, which starts Postgres, the emulators and `idsync serve`
// and passes, in the environment:
//   BASE_URL      idsync's address, e.g. http://127.0.0.1:4321
//   ADMIN_TOKEN   the admin token
//   HEALTHY       name of the connection that syncs (Stack Auth)
//   FAILING       name of the connection whose provider is down
//   SEARCH_EMAIL  email of a user the provider had at start
//   NEW_EMAIL     email of the user to create and delete
//   ARTIFACTS     directory for the screenshots
// Exits 0 when every step passed; prints the failing step otherwise.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const BASE = env('BASE_URL');
const TOKEN = env('ADMIN_TOKEN');
const HEALTHY = env('HEALTHY');
const FAILING = env('FAILING');
const SEARCH_EMAIL = env('SEARCH_EMAIL');
const NEW_EMAIL = env('NEW_EMAIL');
const ARTIFACTS = env('ARTIFACTS');
mkdirSync(ARTIFACTS, { recursive: true });

let step = 'start';
const check = (ok, what) => {
  if (!ok) throw new Error(`${step}: ${what}`);
};

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--disable-quic',
    '--disable-sync',
  ],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(30_000);

// Any CSP violation or script error would show up here: the console must
// work without inline styles or scripts.
const consoleErrors = [];
page.on('console', (m) => {
  // The refused login answers 401 on purpose; Chromium logs that too.
  if (m.type() === 'error' && !m.text().includes('status of 401')) consoleErrors.push(m.text());
});
page.on('pageerror', (e) => consoleErrors.push(String(e)));

const shot = (name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

// Reloads `url` until `ready()` holds, for changes that arrive by webhook.
const reloadUntil = async (url, ready, what) => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await page.goto(url);
    if (await ready()) return;
    check(Date.now() < deadline, `timed out waiting for ${what}`);
    await page.waitForTimeout(250);
  }
};

try {
  step = 'login required';
  await page.goto(`${BASE}/`);
  check(new URL(page.url()).pathname === '/login', `expected the login page, got ${page.url()}`);
  await shot('01-login');

  step = 'wrong token refused';
  await page.fill('#token', 'not-the-token');
  await page.click('button[type=submit]');
  check(new URL(page.url()).pathname === '/login', 'a wrong token got in');
  check(await page.isVisible('.flash.bad'), 'no refusal shown');

  step = 'login';
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`${BASE}/`), page.click('button[type=submit]')]);

  step = 'overview badges';
  const cards = page.locator('article.connection');
  check((await cards.count()) === 2, `expected 2 connections, saw ${await cards.count()}`);
  const health = async (name) =>
    page.locator(`article[data-connection="${name}"] [data-health]`).getAttribute('data-health');
  check((await health(HEALTHY)) === 'healthy', `${HEALTHY} is ${await health(HEALTHY)}`);
  check((await health(FAILING)) === 'failing', `${FAILING} is ${await health(FAILING)}`);
  // The badges are coloured by the stylesheet (served, not blocked by the CSP).
  const green = await page
    .locator(`article[data-connection="${HEALTHY}"] [data-health]`)
    .evaluate((el) => getComputedStyle(el).backgroundColor);
  const red = await page
    .locator(`article[data-connection="${FAILING}"] [data-health]`)
    .evaluate((el) => getComputedStyle(el).backgroundColor);
  check(green !== red && green !== 'rgba(0, 0, 0, 0)', `badge colours ${green} / ${red}`);
  await shot('02-overview');

  step = 'failing connection page';
  await page.click(`article[data-connection="${FAILING}"] h2 a`);
  check((await page.textContent('.card.alert')).includes('failed'), 'no reason shown');
  await shot('03-failing-connection');

  step = 'healthy connection page';
  await page.goto(`${BASE}/`);
  await page.click(`article[data-connection="${HEALTHY}"] h2 a`);
  check((await page.textContent('main')).includes(`/webhooks/${HEALTHY}`), 'no webhook URL');
  await shot('04-connection');

  step = 'users page';
  await page.click('text=Browse users');
  check(new URL(page.url()).pathname === `/connections/${HEALTHY}/users`, page.url());
  check((await page.locator('tr[data-user-id]').count()) === 50, 'first page is not 50 users');
  check(await page.isVisible('a.next'), 'no next page link');
  await shot('05-users');

  step = 'search by email';
  await page.fill('input[name=search]', SEARCH_EMAIL);
  await page.click('form.search button');
  const rows = page.locator('tr[data-user-id]');
  check((await rows.count()) === 1, `search found ${await rows.count()} rows`);
  check((await rows.first().textContent()).includes(SEARCH_EMAIL), 'wrong user found');
  await shot('06-search');

  step = 'raw JSON';
  await rows.first().locator('a').click();
  const raw = JSON.parse(await page.textContent('pre.json'));
  check(raw.primary_email === SEARCH_EMAIL, `raw JSON of another user: ${raw.primary_email}`);
  check((await page.textContent('pre.json')).includes('\n  "'), 'raw JSON is not pretty-printed');
  await shot('07-user');

  step = 'create user';
  const usersUrl = `${BASE}/connections/${HEALTHY}/users`;
  await page.goto(usersUrl);
  await page.click('details.create summary');
  await page.fill('details.create input[name=email]', NEW_EMAIL);
  await page.fill('details.create input[name=name]', 'Console Test');
  await page.fill('details.create input[name=password]', 'a-Long-passw0rd!');
  await shot('08-create-form');
  await page.click('details.create button');
  const notice = await page.textContent('.flash.ok');
  const created = /Created (\S+);/.exec(notice ?? '');
  check(created, `no creation notice: ${notice}`);
  const newId = created[1];
  await shot('09-created-notice');

  step = 'created user appears after the webhook';
  const searchNew = `${usersUrl}?search=${encodeURIComponent(NEW_EMAIL)}`;
  await reloadUntil(
    searchNew,
    async () => (await page.locator(`tr[data-user-id="${newId}"]`).count()) === 1,
    'the created user',
  );
  check(
    (await page.locator(`tr[data-user-id="${newId}"] [data-status]`).getAttribute('data-status')) === 'active',
    'created user is not active',
  );
  await shot('10-created-listed');

  step = 'delete user';
  await page.click(`tr[data-user-id="${newId}"] a`);
  await page.click('text=Delete user…');
  check((await page.textContent('h1')).includes(NEW_EMAIL), 'confirmation names another user');
  await shot('11-delete-confirm');
  await page.click('button.danger');
  check((await page.textContent('.flash.ok')).includes('Deleted'), 'no deletion notice');

  step = 'deleted user marked deleted';
  await reloadUntil(
    searchNew,
    async () =>
      (await page.locator(`tr[data-user-id="${newId}"] [data-status="deleted"]`).count()) === 1,
    'the user to be marked deleted',
  );
  await shot('12-deleted-listed');
  await page.click(`tr[data-user-id="${newId}"] a`);
  check(!(await page.isVisible('text=Delete user…')), 'a deleted user can be deleted again');
  await shot('13-deleted-user');

  step = 'logout';
  await page.click('form.logout button');
  await page.goto(`${BASE}/`);
  check(new URL(page.url()).pathname === '/login', 'still logged in after sign out');

  step = 'no console errors';
  check(consoleErrors.length === 0, consoleErrors.join('\n'));
  console.log(`console flow ok: created and deleted ${newId}`);
} catch (e) {
  await shot('failure').catch(() => {});
  console.error(`console flow failed at "${step}": ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
