// Contract v2 rule 4, for the TypeScript client @hey-api/openapi-ts generates from
// contracts/auth.yaml: event types, failure reasons, error codes and password rules grow in
// later releases, and a client generated from this spec must keep working when a newer
// server sends a value the spec does not list. A stand-in `fetch` answers as such a release
// might; the client must hand the value through. The types say so too: the fields are
// `Known | string`, so the assignments below type-check (against a spec with closed enums
// tsc refuses them: '"some_future_event"' is not assignable to type 'AuthEventType').
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { createClient, createConfig } from './client/client/index.js';
import { getProfile, listAuthEvents } from './client/sdk.gen.js';
import type { AuthEvent, ErrorBody, PasswordRuleViolation } from './client/types.gen.js';

/** A client whose every request is answered with `status` and the JSON `body`. */
const laterRelease = (status: number, body: unknown) =>
  createClient(
    createConfig({
      baseUrl: 'http://later-release.invalid',
      fetch: async () =>
        new Response(JSON.stringify(body), {
          status,
          headers: { 'content-type': 'application/json' },
        }),
    }),
  );

const futureEvent: AuthEvent['event_type'] = 'some_future_event';
const futureReason: AuthEvent['failure_reason'] = 'SOME_FUTURE_REASON';
const futureCode: ErrorBody['code'] = 'SOME_FUTURE_CODE';
const futureRule: PasswordRuleViolation['rule'] = 'some_future_rule';

test('an event type and a failure reason a later release adds are kept', async () => {
  const events: AuthEvent[] = [
    {
      event_id: randomUUID(),
      event_type: futureEvent,
      success: false,
      failure_reason: futureReason,
      ip_address: '127.0.0.1',
      user_agent: null,
      created_at: '2026-01-14T10:00:00Z',
      count: 1,
    },
  ];
  const client = laterRelease(200, { data: events, next_cursor: null });
  const page = await listAuthEvents({ client, path: { user_id: randomUUID() } });
  assert.equal(page.response.status, 200);
  assert.ok(page.data);
  assert.equal(page.data.data[0]?.event_type, 'some_future_event');
  assert.equal(page.data.data[0]?.failure_reason, 'SOME_FUTURE_REASON');
});

test('an error code and a password rule a later release adds are kept', async () => {
  const client = laterRelease(403, {
    error: {
      code: futureCode,
      message: 'Refused for a reason a later release adds',
      details: { violations: [{ rule: futureRule, message: 'Too guessable' }] },
    },
    meta: { timestamp: '2026-01-14T10:00:00Z', request_id: randomUUID() },
  });
  const refused = await getProfile({ client, path: { user_id: randomUUID() } });
  assert.equal(refused.response.status, 403);
  assert.equal(refused.data, undefined);
  assert.ok(refused.error);
  assert.equal(refused.error.error.code, 'SOME_FUTURE_CODE');
  assert.deepEqual(
    refused.error.error.details?.violations?.map((v) => v.rule),
    ['some_future_rule'],
  );
});
