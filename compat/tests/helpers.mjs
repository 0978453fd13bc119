// Shared settings for the SDK test files (not itself a test file: it does not match *.test.mjs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

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
