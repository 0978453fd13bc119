// npm auth0@7.1.0 against Usher. v7 methods resolve to the body; .withRawResponse() exposes the status.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManagementClient, ManagementError } from 'auth0';
import {
  DB_CONNECTION, assertErrorBody, audience, clientId, clientSecret, domain, email, strongPassword, unique,
  ignoreErrors, managementRejects,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });

const rejectsWith = managementRejects(ManagementError);


describe('v7 users', () => {
  const invitedEmail = email('v7-invited');
  const pwEmail = email('v7-pw');
  let invited;
  let pwUser;

  after(async () => {
    for (const u of [invited, pwUser]) if (u) await ignoreErrors(() => mgmt.users.delete(u.user_id));
  });

  it('creates a user without a password (invitation style)', async () => {
    const { data, rawResponse } = await mgmt.users.create({
      connection: DB_CONNECTION,
      email: invitedEmail,
      email_verified: false,
      verify_email: false,
      app_metadata: { needsInvitation: true },
    }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    invited = data;
    assert.match(invited.user_id, /^auth0\|/);
    assert.equal(invited.email, invitedEmail);
    assert.equal(invited.email_verified, false);
    assert.equal(invited.identities[0].provider, 'auth0');
    assert.equal(invited.identities[0].connection, DB_CONNECTION);
    assert.deepEqual(invited.app_metadata, { needsInvitation: true });
  });

  it('creates a user with a password', async () => {
    const { data, rawResponse } = await mgmt.users.create({
      connection: DB_CONNECTION,
      email: pwEmail,
      password: strongPassword(),
      name: 'Original Name',
      app_metadata: { plan: 'free', needsInvitation: true },
      user_metadata: { lang: 'en', theme: 'dark' },
    }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    pwUser = data;
    assert.match(pwUser.user_id, /^auth0\|/);
    assert.equal(pwUser.name, 'Original Name');
    assert.equal(pwUser.password, undefined, 'the password must not be echoed');
  });

  it('gets a user by id', async () => {
    const user = await mgmt.users.get(pwUser.user_id);
    assert.equal(user.user_id, pwUser.user_id);
    assert.equal(user.email, pwEmail);
    assert.deepEqual(user.user_metadata, { lang: 'en', theme: 'dark' });
  });

  it('updates: metadata is merged one level deep (null removes a key), name is replaced', async () => {
    const updated = await mgmt.users.update(pwUser.user_id, {
      name: 'New Name',
      app_metadata: { role: 'admin', needsInvitation: null },
      user_metadata: { tz: 'UTC', theme: null },
    });
    for (const u of [updated, await mgmt.users.get(pwUser.user_id)]) {
      assert.equal(u.name, 'New Name');
      assert.deepEqual(u.app_metadata, { plan: 'free', role: 'admin' });
      assert.deepEqual(u.user_metadata, { lang: 'en', tz: 'UTC' });
    }
  });

  it('lists users with a v3 search query (page with totals)', async () => {
    const page = await mgmt.users.list({ q: `email:"${invitedEmail}"`, search_engine: 'v3' });
    assert.deepEqual(page.data.map((u) => u.user_id), [invited.user_id], JSON.stringify(page.response));
    assert.equal(page.response.total, 1);
  });

  it('finds users by email', async () => {
    const users = await mgmt.users.listUsersByEmail({ email: invitedEmail });
    assert.ok(Array.isArray(users), JSON.stringify(users));
    assert.deepEqual(users.map((u) => u.user_id), [invited.user_id]);
  });

  it('rejects a duplicate email with 409', async () => {
    await rejectsWith(
      mgmt.users.create({ connection: DB_CONNECTION, email: pwEmail, password: strongPassword() }),
      409,
      (body) => {
        assert.equal(body.message, 'The user already exists.');
        assert.equal(body.errorCode, 'auth0_idp_error');
      },
    );
  });

  it('deletes a user; getting it afterwards is a 404', async () => {
    const { rawResponse } = await mgmt.users.delete(invited.user_id).withRawResponse();
    assert.equal(rawResponse.status, 204);
    await rejectsWith(mgmt.users.get(invited.user_id), 404, (body) => {
      assert.equal(body.message, 'The user does not exist.');
      assert.equal(body.errorCode, 'inexistent_user');
    });
    invited = undefined;
  });
});

describe('v7 clients', () => {
  let created;

  after(async () => {
    if (created) await ignoreErrors(() => mgmt.clients.delete(created.client_id));
  });

  it('creates a client and returns its secret', async () => {
    const { data, rawResponse } = await mgmt.clients.create({
      name: unique('v7-app'),
      app_type: 'regular_web',
      callbacks: ['https://app.example.com/callback'],
      grant_types: ['authorization_code'],
    }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    created = data;
    assert.equal(typeof created.client_id, 'string');
    assert.ok(created.client_secret, 'client_secret must be in the create response');
    assert.equal(created.is_first_party, true, 'Auth0 creates first-party clients unless told otherwise');
  });

  it('gets the client', async () => {
    const c = await mgmt.clients.get(created.client_id);
    assert.equal(c.client_id, created.client_id);
    assert.equal(c.name, created.name);
    assert.deepEqual(c.callbacks, ['https://app.example.com/callback']);
  });

  it('lists clients with totals and iterates all pages', async () => {
    const page = await mgmt.clients.list();
    assert.equal(typeof page.response.total, 'number', JSON.stringify(page.response));
    assert.ok(page.response.total >= 2, 'the bootstrap client and ours');
    const ids = [];
    for await (const c of page) ids.push(c.client_id);
    assert.ok(ids.includes(created.client_id));
  });

  it('updates callbacks, grant_types and app_type', async () => {
    const patch = {
      callbacks: ['https://app.example.com/cb1', 'https://app.example.com/cb2'],
      grant_types: ['authorization_code', 'refresh_token'],
      app_type: 'spa',
    };
    const updated = await mgmt.clients.update(created.client_id, patch);
    for (const c of [updated, await mgmt.clients.get(created.client_id)]) {
      assert.deepEqual(c.callbacks, patch.callbacks);
      assert.deepEqual(c.grant_types, patch.grant_types);
      assert.equal(c.app_type, 'spa');
    }
  });

  it('deletes the client', async () => {
    const { rawResponse } = await mgmt.clients.delete(created.client_id).withRawResponse();
    assert.equal(rawResponse.status, 204);
    await rejectsWith(mgmt.clients.get(created.client_id), 404);
    created = undefined;
  });
});

describe('v7 client grants', () => {
  let client;
  let grant;

  before(async () => {
    client = await mgmt.clients.create({
      name: unique('v7-m2m'), app_type: 'non_interactive', grant_types: ['client_credentials'],
    });
  });
  after(async () => {
    if (grant) await ignoreErrors(() => mgmt.clientGrants.delete(grant.id));
    if (client) await ignoreErrors(() => mgmt.clients.delete(client.client_id));
  });

  it('creates a grant for the Management API audience', async () => {
    const { data, rawResponse } = await mgmt.clientGrants.create({
      client_id: client.client_id, audience, scope: ['read:users', 'read:clients'],
    }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    grant = data;
    assert.equal(typeof grant.id, 'string');
    assert.equal(grant.client_id, client.client_id);
    assert.equal(grant.audience, audience);
    assert.deepEqual(grant.scope, ['read:users', 'read:clients']);
  });

  it('lists grants filtered by client_id', async () => {
    const page = await mgmt.clientGrants.list({ client_id: client.client_id });
    assert.deepEqual(page.data.map((g) => g.id), [grant.id], JSON.stringify(page.response));
  });

  it('pages through all grants with checkpoint paging (take/from/next)', async () => {
    const page = await mgmt.clientGrants.list({ take: 1 });
    const seen = JSON.stringify({ ...page.response, client_grants: page.data.map((g) => g.id) });
    assert.equal(page.data.length, 1, `take=1 must return one grant: ${seen}`);
    assert.ok(page.hasNextPage(), `a next checkpoint is needed: ${seen}`);
    const ids = [];
    for await (const g of page) ids.push(g.id);
    assert.ok(ids.includes(grant.id));
    assert.equal(new Set(ids).size, ids.length, 'no grant is returned twice');
  });

  it('updates the scope', async () => {
    const updated = await mgmt.clientGrants.update(grant.id, { scope: ['read:users'] });
    assert.deepEqual(updated.scope, ['read:users']);
  });

  it('deletes the grant', async () => {
    const { rawResponse } = await mgmt.clientGrants.delete(grant.id).withRawResponse();
    assert.equal(rawResponse.status, 204);
    const page = await mgmt.clientGrants.list({ client_id: client.client_id });
    assert.deepEqual(page.data, []);
    grant = undefined;
  });
});

describe('v7 connections', () => {
  let conn;
  let originalOptions;
  let extra;

  after(async () => {
    if (conn) await mgmt.connections.update(conn.id, { options: originalOptions ?? {} });
    if (extra) await ignoreErrors(() => mgmt.connections.delete(extra.id));
  });

  it('lists the database connection by strategy and name (checkpoint paging)', async () => {
    const page = await mgmt.connections.list({ strategy: 'auth0', name: DB_CONNECTION });
    assert.equal(page.data.length, 1, JSON.stringify(page.response));
    assert.equal(page.data[0].name, DB_CONNECTION);
    assert.equal(page.data[0].strategy, 'auth0');
    assert.match(page.data[0].id, /^con_/);
    assert.equal(page.hasNextPage(), false);
    conn = page.data[0];
  });

  it('pages through connections one at a time (take/from/next)', async () => {
    extra = await mgmt.connections.create({ name: unique('v7-db'), strategy: 'auth0' });
    const page = await mgmt.connections.list({ strategy: 'auth0', take: 1 });
    assert.equal(page.data.length, 1, JSON.stringify(page.response));
    assert.ok(page.hasNextPage(), `a next checkpoint is needed: ${JSON.stringify(page.response)}`);
    const names = [];
    for await (const c of page) names.push(c.name);
    assert.ok(names.includes(DB_CONNECTION) && names.includes(extra.name), names.join(', '));
    assert.equal(new Set(names).size, names.length, 'no connection is returned twice');
  });

  it('gets the connection by id', async () => {
    const c = await mgmt.connections.get(conn.id);
    assert.equal(c.id, conn.id);
    assert.equal(c.name, DB_CONNECTION);
    assert.equal(typeof c.options, 'object');
    originalOptions = c.options;
  });

  it('updates options and reads them back', async () => {
    const options = {
      passwordPolicy: 'good',
      password_complexity_options: { min_length: 10 },
      disable_signup: true,
      brute_force_protection: true,
    };
    const updated = await mgmt.connections.update(conn.id, { options });
    for (const c of [updated, await mgmt.connections.get(conn.id)]) {
      assert.equal(c.options.passwordPolicy, 'good');
      assert.deepEqual(c.options.password_complexity_options, { min_length: 10 });
      assert.equal(c.options.disable_signup, true);
      assert.equal(c.options.brute_force_protection, true);
    }
  });

  it("rejects a weak password under passwordPolicy 'good' with 400", async () => {
    await rejectsWith(
      mgmt.users.create({ connection: DB_CONNECTION, email: email('v7-weak'), password: 'password' }),
      400,
      (body) => assert.match(body.message, /password/i),
    );
  });

  it('PATCH replaces options as a whole', async () => {
    await mgmt.connections.update(conn.id, {
      options: { passwordPolicy: 'low', password_complexity_options: { min_length: 6 } },
    });
    const c = await mgmt.connections.get(conn.id);
    assert.equal(c.options.passwordPolicy, 'low');
    assert.deepEqual(c.options.password_complexity_options, { min_length: 6 });
    assert.notEqual(c.options.disable_signup, true, 'disable_signup was not sent, so it must be gone');
  });
});

describe('v7 tenant settings', () => {
  it('gets, updates and reads back settings', async () => {
    assert.equal(typeof (await mgmt.tenants.settings.get()), 'object');
    const patch = {
      friendly_name: unique('Usher v7'),
      support_email: 'support-v7@example.com',
      support_url: 'https://support.example.com/v7',
    };
    const updated = await mgmt.tenants.settings.update(patch);
    for (const s of [updated, await mgmt.tenants.settings.get()]) {
      assert.equal(s.friendly_name, patch.friendly_name);
      assert.equal(s.support_email, patch.support_email);
      assert.equal(s.support_url, patch.support_url);
    }
  });
});

describe('v7 scopes', () => {
  let readOnly;
  let noGrant;
  let grant;

  before(async () => {
    readOnly = await mgmt.clients.create({
      name: unique('v7-readonly'), app_type: 'non_interactive', grant_types: ['client_credentials'],
    });
    grant = await mgmt.clientGrants.create({ client_id: readOnly.client_id, audience, scope: ['read:users'] });
    noGrant = await mgmt.clients.create({
      name: unique('v7-nogrant'), app_type: 'non_interactive', grant_types: ['client_credentials'],
    });
  });
  after(async () => {
    if (grant) await ignoreErrors(() => mgmt.clientGrants.delete(grant.id));
    for (const c of [readOnly, noGrant]) if (c) await ignoreErrors(() => mgmt.clients.delete(c.client_id));
  });

  const clientFor = (c) => new ManagementClient({ domain, clientId: c.client_id, clientSecret: c.client_secret });

  it('a client granted only read:users can list users', async () => {
    const page = await clientFor(readOnly).users.list({ per_page: 5 });
    assert.ok(Array.isArray(page.data));
  });

  it('but creating a user is a 403 insufficient_scope', async () => {
    await rejectsWith(
      clientFor(readOnly).users.create({ connection: DB_CONNECTION, email: email('v7-denied'), password: strongPassword() }),
      403,
      (body) => {
        assert.equal(body.errorCode, 'insufficient_scope');
        assert.match(body.message, /insufficient scope/i);
      },
    );
  });

  it('a client without a grant is refused a token (403 access_denied)', async () => {
    await assert.rejects(clientFor(noGrant).users.list(), (err) => {
      assert.ok(err instanceof ManagementError, `expected ManagementError, got ${err?.name}: ${err?.message}`);
      assert.equal(err.statusCode, 403);
      assert.match(err.message, /token request failed/);
      assert.equal(err.body?.error, 'access_denied', JSON.stringify(err.body));
      return true;
    });
  });
});
