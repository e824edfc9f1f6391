// Swagger UI in a real browser: headless Chromium (Debian's, driven by playwright-core)
// opens /docs of a running gatehouse (GATEHOUSE_URL), runs signup with "Try it out",
// authorizes with the returned token, runs GET /api/auth/me and sees 200 with the user's
// email. Screenshots go to GATEHOUSE_ARTIFACTS (printed in the log).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const baseUrl = process.env.GATEHOUSE_URL;
const artifacts = process.env.GATEHOUSE_ARTIFACTS;
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!baseUrl || !artifacts) {
  throw new Error('GATEHOUSE_URL and GATEHOUSE_ARTIFACTS must be set (run sdk/run.sh)');
}

let browser;
before(async () => {
  mkdirSync(artifacts, { recursive: true });
  // playwright-core gives the browser a fresh profile (--user-data-dir) and --no-sandbox;
  // the rest keeps Chromium from dialling out of this closed network.
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
after(async () => {
  await browser?.close();
});

/** Expands an operation, presses "Try it out" (and fills the body), executes it and
 *  returns the live response's status and body text. */
async function runOperation(page, operationId, body) {
  const op = page.locator(`[id$="-${operationId}"].opblock`);
  await op.locator('.opblock-summary').first().click();
  await op.getByRole('button', { name: 'Try it out' }).click();
  if (body !== undefined) {
    await op.locator('textarea.body-param__text').fill(JSON.stringify(body, null, 2));
  }
  await op.getByRole('button', { name: 'Execute' }).click();
  const live = op.locator('.live-responses-table .response');
  await live.first().waitFor();
  const status = Number((await live.locator('.response-col_status').first().innerText()).trim());
  const text = await live.locator('.response-col_description pre').first().innerText();
  return { op, status, text };
}

/** Saves a screenshot of `target` (a page: all of it; a locator: that element). */
async function screenshot(target, name) {
  const file = path.join(artifacts, name);
  await target.screenshot({ path: file, ...('goto' in target ? { fullPage: true } : {}) });
  console.log(`screenshot: ${file}`);
}

test('Swagger UI: signup with Try it out, Authorize with its token, then /api/auth/me is 200 with the email', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (err) => consoleErrors.push(String(err)));
  try {
    await page.goto(`${baseUrl}/docs`);
    await page.locator('.opblock').first().waitFor();

    const email = `ui-${randomUUID()}@example.com`;
    const signup = await runOperation(page, 'signUp', { email, password: 'Correct-Horse-42' });
    assert.equal(signup.status, 201, signup.text);
    const session = JSON.parse(signup.text);
    assert.equal(session.email, email);
    assert.ok(session.token);

    await page.locator('.auth-wrapper button.authorize').click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input').first().fill(session.token);
    await dialog.locator('.auth-btn-wrapper button.authorize').click();
    // Once authorized, the dialog says so and offers "Logout" instead.
    await dialog.getByRole('heading', { name: 'Authorized', exact: true }).waitFor();
    await dialog.locator('.auth-btn-wrapper button.btn-done').click();

    const me = await runOperation(page, 'getCurrentUser');
    await screenshot(me.op, 'swagger-ui-me.png');
    assert.equal(me.status, 200, me.text);
    const user = JSON.parse(me.text);
    assert.equal(user.email, email);
    assert.equal(user.user_id, session.user_id);
    assert.deepEqual(consoleErrors, []);
  } catch (err) {
    await screenshot(page, 'swagger-ui-failure.png').catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
});
