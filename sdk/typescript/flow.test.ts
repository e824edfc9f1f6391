// The TypeScript client that @hey-api/openapi-ts generates from contracts/auth.yaml drives
// the whole flow against a running gatehouse (GATEHOUSE_URL), and decodes errors into the
// spec's typed envelope. run.sh generates ./client next to a copy of this file, type-checks
// both with tsc (so a spec change that breaks the types fails here too) and runs the
// result with `node --test`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { createClient, createConfig } from './client/client/index.js';
import {
  getCurrentUser,
  getProfile,
  listAuthEvents,
  listSessions,
  logIn,
  logOut,
  signUp,
} from './client/sdk.gen.js';
import type { ErrorEnvelope } from './client/types.gen.js';

const baseUrl = process.env.GATEHOUSE_URL;
if (!baseUrl) {
  throw new Error('GATEHOUSE_URL must point at a running gatehouse');
}
const PASSWORD = 'Correct-Horse-42';

const anonymous = createClient(createConfig({ baseUrl }));
const withToken = (token: string) => createClient(createConfig({ baseUrl, auth: () => token }));
const uniqueEmail = () => `ts-${randomUUID()}@example.com`;

/** Checks the parts of the envelope every error has. */
function assertEnvelope(error: ErrorEnvelope | undefined, status: number, response: Response) {
  assert.ok(error, `expected an error body for ${status}`);
  assert.equal(response.status, status);
  assert.equal(error.meta.request_id, response.headers.get('x-request-id'));
  assert.ok(!Number.isNaN(Date.parse(error.meta.timestamp)), error.meta.timestamp);
  return error;
}

test('signup → login → me → profile → auth-events → sessions → logout → me refused with AUTH_REVOKED', async () => {
  const email = uniqueEmail();
  const signedUp = await signUp({ client: anonymous, body: { email, password: PASSWORD } });
  assert.equal(signedUp.response.status, 201);
  assert.ok(signedUp.data, 'signup answers an AuthResponse');
  assert.equal(signedUp.data.email, email);
  assert.equal(signedUp.data.token_type, 'Bearer');

  const loggedIn = await logIn({ client: anonymous, body: { email, password: PASSWORD } });
  assert.equal(loggedIn.response.status, 200);
  assert.ok(loggedIn.data);
  assert.equal(loggedIn.data.user_id, signedUp.data.user_id);
  assert.notEqual(loggedIn.data.session_id, signedUp.data.session_id);

  const client = withToken(loggedIn.data.token);
  const me = await getCurrentUser({ client });
  assert.equal(me.response.status, 200);
  assert.ok(me.data);
  assert.equal(me.data.email, email);
  assert.equal(me.data.is_active, true);
  assert.notEqual(me.data.last_login, null);
  const userId = me.data.user_id;

  const profile = await getProfile({ client, path: { user_id: userId } });
  assert.equal(profile.response.status, 200);
  assert.equal(profile.data?.email, email);

  const events = await listAuthEvents({ client, path: { user_id: userId } });
  assert.equal(events.response.status, 200);
  assert.ok(events.data);
  assert.deepEqual(
    events.data.data.map((e) => e.event_type),
    ['login', 'signup'],
  );
  assert.ok(events.data.data.every((e) => e.success && e.count === 1 && e.failure_reason === null));
  assert.equal(events.data.next_cursor, null);

  const sessions = await listSessions({ client, path: { user_id: userId } });
  assert.equal(sessions.response.status, 200);
  assert.ok(sessions.data);
  assert.equal(sessions.data.data.length, 2);
  const current = sessions.data.data.filter((s) => s.current);
  assert.deepEqual(
    current.map((s) => s.session_id),
    [loggedIn.data.session_id],
  );

  const bye = await logOut({ client });
  assert.equal(bye.response.status, 200);
  assert.equal(bye.data?.message, 'Logged out successfully');

  const refused = await getCurrentUser({ client });
  assert.equal(refused.data, undefined);
  const error = assertEnvelope(refused.error, 401, refused.response);
  assert.equal(error.error.code, 'AUTH_REVOKED');
  assert.equal(error.error.message, 'Invalid or expired token');
  assert.equal(error.error.details, null);
  assert.match(refused.response.headers.get('www-authenticate') ?? '', /^Bearer/);
});

test('a weak password at signup decodes into the typed VALIDATION_PASSWORD envelope', async () => {
  const refused = await signUp({
    client: anonymous,
    body: { email: uniqueEmail(), password: 'short' },
  });
  assert.equal(refused.data, undefined);
  const error = assertEnvelope(refused.error, 400, refused.response);
  assert.equal(error.error.code, 'VALIDATION_PASSWORD');
  const details = error.error.details;
  assert.ok(details?.violations, 'details lists the violations');
  assert.deepEqual(
    details.violations.map((v) => v.rule),
    ['min_length', 'uppercase', 'digit'],
  );
});
