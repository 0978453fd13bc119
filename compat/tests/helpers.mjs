// Shared settings for the SDK test files (not itself a test file: it does not match *.test.mjs).
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, verify } from 'node:crypto';

for (const name of ['USHER_DOMAIN', 'USHER_CLIENT_ID', 'USHER_CLIENT_SECRET']) {
  if (!process.env[name]) throw new Error(`${name} is not set; run the suite with "node compat/run.mjs"`);
}

export const domain = process.env.USHER_DOMAIN;
export const clientId = process.env.USHER_CLIENT_ID;
export const clientSecret = process.env.USHER_CLIENT_SECRET;
export const audience = `https://${domain}/api/v2/`;
export const DB_CONNECTION = 'Username-Password-Authentication';

// Unique per run and per file, so repeated runs or both SDK files never collide.
export function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export const email = (prefix) => `${unique(prefix)}@example.com`.toLowerCase();

export const strongPassword = () => `Str0ng!${randomBytes(6).toString('hex')}Pw`;

// Auth0's Management API error body.
export function assertErrorBody(body, statusCode, errorCode) {
  const parsed = typeof body === 'string' ? JSON.parse(body) : body;
  assert.equal(parsed.statusCode, statusCode, `body.statusCode in ${JSON.stringify(parsed)}`);
  assert.equal(typeof parsed.error, 'string', `body.error in ${JSON.stringify(parsed)}`);
  assert.equal(typeof parsed.message, 'string', `body.message in ${JSON.stringify(parsed)}`);
  if (errorCode) assert.equal(parsed.errorCode, errorCode, `body.errorCode in ${JSON.stringify(parsed)}`);
  return parsed;
}

// managementRejects returns an assertion that a promise rejects the way an
// SDK surfaces a Management API error (ErrorClass, in Auth0's body shape);
// check gets the parsed body and the error, and the body is returned.
export function managementRejects(ErrorClass) {
  return async function rejectsWith(promise, statusCode, check = () => {}) {
    let body;
    await assert.rejects(promise, (err) => {
      assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${err?.name}: ${err?.message}`);
      assert.equal(err.statusCode, statusCode, `statusCode; body: ${JSON.stringify(err.body)}`);
      body = assertErrorBody(err.body, statusCode);
      check(body, err);
      return true;
    });
    return body;
  };
}

// ignoreErrors runs clean-up that may find nothing to clean.
export async function ignoreErrors(fn) {
  try { await fn(); } catch {}
}

// Auth0's answer to /dbconnections/change_password, for known and unknown emails alike.
export const CHANGE_PASSWORD_SENT = "We've just sent you an email to reset your password.";

// The reset_email body of the invitation recipe: one template, two branches.
export const INVITE_OR_RESET_BODY = `<html><body>
{% if user.app_metadata.needsInvitation %}
<p>Welcome to {{ friendly_name }}! Choose a password: <a href="{{ url }}type=invite">Accept the invitation</a></p>
{% else %}
<p>Reset your password: <a href="{{ url }}type=reset">Choose a new password</a></p>
{% endif %}
</body></html>`;

// Broken Liquid: the if opened on line 3 is never closed.
export const BROKEN_LIQUID_BODY = '<html><body>\n<p>Hello</p>\n{% if x %}\n<p>never closed</p>\n</body></html>';

// Universal Login page templates: with and without the tags Auth0 requires.
export const UL_TEMPLATE = '<!DOCTYPE html><html><head>{%- auth0:head -%}</head><body>{%- auth0:widget -%}</body></html>';
export const UL_TEMPLATE_NO_TAGS = '<!DOCTYPE html><html><head></head><body><p>no widget here</p></body></html>';

export const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// A Management API token of the bootstrap client, for Usher's own endpoints (no SDK knows them).
let tokenPromise;
export function managementToken() {
  tokenPromise ??= (async () => {
    const res = await fetch(`https://${domain}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, audience,
      }),
    });
    const body = await res.text();
    assert.equal(res.status, 200, `POST /oauth/token: ${body}`);
    return JSON.parse(body).access_token;
  })();
  return tokenPromise;
}

// GET https://DOMAIN/usher/v1/PATH with the bootstrap client's token; returns {status, body}.
export async function usherApi(pathAndQuery, init = {}) {
  const res = await fetch(`https://${domain}/usher/v1/${pathAndQuery}`, {
    ...init,
    headers: { authorization: `Bearer ${await managementToken()}`, ...init.headers },
  });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch {}
  return { status: res.status, body };
}

// The outbox mails addressed to `to` (the endpoint answers {mails:[{to, template, status, …}], total}).
export async function outboxFor(to) {
  const { status, body } = await usherApi(`outbox?to=${encodeURIComponent(to)}&per_page=100`);
  assert.equal(status, 200, `GET /usher/v1/outbox?to=${to}: ${JSON.stringify(body)}`);
  assert.ok(Array.isArray(body.mails), `mails in ${JSON.stringify(body)}`);
  assert.equal(typeof body.total, 'number', `total in ${JSON.stringify(body)}`);
  return body.mails.filter((m) => m.to === to);
}

// Removes the email provider with a plain DELETE (v4 has no method for it); 204 or 404 are both fine.
export async function deleteEmailProvider() {
  const res = await fetch(`https://${domain}/api/v2/emails/provider`, {
    method: 'DELETE', headers: { authorization: `Bearer ${await managementToken()}` },
  });
  await res.arrayBuffer();
  assert.ok([204, 404].includes(res.status), `DELETE /api/v2/emails/provider answered ${res.status}`);
}

// --- Login through the Authentication API (login-v4 / login-v7) ---

// The grants an application needs for the password-realm login, refresh and the browser flow.
export const LOGIN_GRANT_TYPES = [
  'password', 'http://auth0.com/oauth/grant-type/password-realm', 'authorization_code', 'refresh_token',
];
export const LOGIN_SCOPE = 'openid profile email offline_access';

// The payload of a JWT, not verified.
export function jwtPayload(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `a JWT has three parts: ${token}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

// Checks an RS256 ID token's signature against https://DOMAIN/.well-known/jwks.json with
// node:crypto alone, independently of the SDK's own check; returns {header, payload}.
export async function verifyWithJwks(token) {
  const [h, p, sig] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  assert.equal(header.alg, 'RS256', `ID token header ${JSON.stringify(header)}`);
  const res = await fetch(`https://${domain}/.well-known/jwks.json`);
  assert.equal(res.status, 200, 'GET /.well-known/jwks.json');
  const { keys } = await res.json();
  const jwk = keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `no key with kid ${header.kid} in ${JSON.stringify(keys.map((k) => k.kid))}`);
  assert.equal(jwk.kty, 'RSA');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  assert.ok(verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url')),
    'the ID token signature does not verify with the published key');
  return { header, payload: jwtPayload(token) };
}

// The claims every ID token for `app` and `user` must carry (Auth0's SDKs check these).
export function assertIdTokenClaims(payload, { app, user, userEmail }) {
  const now = Math.floor(Date.now() / 1000);
  assert.equal(payload.iss, `https://${domain}/`, `iss in ${JSON.stringify(payload)}`);
  assert.equal(payload.aud, app.client_id, `aud in ${JSON.stringify(payload)}`);
  assert.equal(payload.sub, user.user_id, `sub in ${JSON.stringify(payload)}`);
  assert.equal(payload.email, userEmail, `email in ${JSON.stringify(payload)}`);
  assert.equal(typeof payload.iat, 'number');
  assert.equal(typeof payload.exp, 'number');
  assert.ok(payload.iat <= now + 60 && payload.exp > now, `iat ${payload.iat} exp ${payload.exp} now ${now}`);
  assert.equal(payload.nonce, undefined, 'no nonce was sent, so none may come back (the SDK would refuse it)');
}

// The {error, error_description} rejection of the v4 Authentication API (also auth0/legacy).
export function assertAuthApiError(ErrorClass, err, statusCode, error) {
  assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${err?.name}: ${err?.message}`);
  assert.equal(err.statusCode, statusCode, `statusCode; body: ${err.body}`);
  assert.equal(err.error, error, `error; body: ${err.body}`);
  assert.equal(typeof err.error_description, 'string', `error_description; body: ${err.body}`);
  assert.ok(err.error_description.length > 0, `error_description; body: ${err.body}`);
  return true;
}

// --- Actions (actions-v4 / actions-v7) ---

// Auth0's invitation recipe: the post-login Action that clears the flag once the user logged in.
export const INVITATION_ACTION_CODE = 'exports.onExecutePostLogin = async (event, api) => { if (event.user.app_metadata.needsInvitation) { api.user.setAppMetadata("needsInvitation", false); } };';
export const POST_LOGIN_V3 = [{ id: 'post-login', version: 'v3' }];

// Does not parse: the if opened on line 3 has no closing parenthesis.
export const BROKEN_ACTION_CODE = [
  'exports.onExecutePostLogin = async (event, api) => {',
  '  console.log("about to check");',
  '  if (event.user.app_metadata.needsInvitation {',
  '    api.user.setAppMetadata("needsInvitation", false);',
  '  }',
  '};',
].join('\n');

// Runs `check` until it stops throwing (bounded), for what Usher does just after it answers,
// such as the mail and log event of a /dbconnections/change_password request. Returns its value.
export async function eventually(check, { tries = 100, delayMs = 50 } = {}) {
  for (let i = 1; ; i++) {
    try {
      return await check();
    } catch (err) {
      if (i >= tries) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

// What deploy tools (auth0-deploy-cli, terraform) do after saving an action: GET it until its
// status is 'built' (bounded). `getAction` answers the action object. Returns {action, polls}.
export async function pollUntilBuilt(getAction, { tries = 40, delayMs = 250 } = {}) {
  let action;
  for (let polls = 1; polls <= tries; polls++) {
    action = await getAction();
    if (action.status === 'built') return { action, polls };
    assert.notEqual(action.status, 'failed', `the action failed to build: ${JSON.stringify(action)}`);
    await new Promise((r) => setTimeout(r, delayMs));
  }
  assert.fail(`the action was not built after ${tries} polls: ${JSON.stringify(action)}`);
}

// Checks the action object of Auth0's Management API for the invitation action.
export function assertInvitationAction(action, { name }) {
  assert.match(action.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, `id in ${JSON.stringify(action)}`);
  assert.equal(action.name, name);
  assert.deepEqual(action.supported_triggers, POST_LOGIN_V3);
  assert.equal(action.code, INVITATION_ACTION_CODE, 'the code is kept verbatim');
  assert.equal(action.runtime, 'node22');
  assert.deepEqual(action.dependencies ?? [], []);
  assert.deepEqual(action.secrets ?? [], []);
  assert.equal(typeof action.created_at, 'string');
  assert.equal(typeof action.updated_at, 'string');
  assert.ok(!Number.isNaN(Date.parse(action.created_at)), `created_at ${action.created_at}`);
}

// Checks the version object a deploy answers (Auth0: 202 with the new version).
export function assertFirstVersion(version, action) {
  assert.equal(typeof version.id, 'string', `id in ${JSON.stringify(version)}`);
  assert.equal(version.action_id, action.id);
  assert.equal(version.number, 1, 'the first deploy is version 1');
  assert.equal(version.deployed, true);
  assert.equal(version.code, INVITATION_ACTION_CODE);
  assert.equal(version.runtime, 'node22');
  assert.equal(version.status, 'built');
  assert.deepEqual(version.supported_triggers, POST_LOGIN_V3);
  assert.equal(typeof version.created_at, 'string');
  if (version.action) assert.equal(version.action.id, action.id);
}

// --- Bulk import (import-v4 / import-v7) ---

// A users file of n rows in Auth0's bulk-import format, one per line; rows 100, 200, … are broken
// in turn by a bad email, a missing email and a plaintext password_hash. Returns the file, the
// emails that should land and the broken rows' numbers with their expected error codes.
export function importFile(prefix, n) {
  const good = [];
  const bad = new Map();
  const brokenAs = [['{"email":"not-an-email"}', 'FORMAT'], ['{"given_name":"Nobody"}', 'OBJECT_REQUIRED'],
    [`{"email":"${prefix}-hash@example.com","password_hash":"plaintext"}`, 'PATTERN']];
  const lines = [];
  for (let i = 1; i <= n; i++) {
    if (i % 100 === 0) {
      const [rec, code] = brokenAs[(i / 100) % brokenAs.length];
      lines.push(rec.replace('-hash@', `-hash${i}@`));
      bad.set(i, code);
      continue;
    }
    const addr = `${prefix}-${i}@example.com`.toLowerCase();
    good.push(addr);
    lines.push(JSON.stringify({ email: addr, given_name: `Person ${i}`, user_metadata: { row: i } }));
  }
  return { json: `[\n${lines.join(',\n')}\n]\n`, good, bad };
}

// Polls getJob until the job is no longer pending and returns it.
export async function waitForJob(getJob, { tries = 240, delayMs = 250 } = {}) {
  for (let i = 0; i < tries; i++) {
    const job = await getJob();
    if (job.status !== 'pending') return job;
    await new Promise((r) => setTimeout(r, delayMs));
  }
  throw new Error('the job did not end in time');
}

// Runs fn over items, `width` at a time.
export async function inParallel(items, width, fn) {
  const queue = [...items];
  await Promise.all(Array.from({ length: width }, async () => {
    while (queue.length) await fn(queue.shift());
  }));
}
