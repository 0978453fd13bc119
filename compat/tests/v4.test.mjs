// npm auth0@4.37.1 against Usher. v4 methods resolve to {data, status, headers}.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuthApiError, ManagementApiError, ManagementClient } from 'auth0-v4';
import {
  DB_CONNECTION, assertErrorBody, audience, clientId, clientSecret, domain, email, strongPassword, unique,
  ignoreErrors, managementRejects,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });

const rejectsWith = managementRejects(ManagementApiError);


describe('v4 users', () => {
  const invitedEmail = email('v4-invited');
  const pwEmail = email('v4-pw');
  let invited;
  let pwUser;

  after(async () => {
    for (const u of [invited, pwUser]) if (u) await ignoreErrors(() => mgmt.users.delete({ id: u.user_id }));
  });

  it('creates a user without a password (invitation style)', async () => {
    const res = await mgmt.users.create({
      connection: DB_CONNECTION,
      email: invitedEmail,
      email_verified: false,
      verify_email: false,
      app_metadata: { needsInvitation: true },
    });
    assert.equal(res.status, 201);
    invited = res.data;
    assert.match(invited.user_id, /^auth0\|/);
    assert.equal(invited.email, invitedEmail);
    assert.equal(invited.email_verified, false);
    assert.equal(invited.identities[0].provider, 'auth0');
    assert.equal(invited.identities[0].connection, DB_CONNECTION);
    assert.deepEqual(invited.app_metadata, { needsInvitation: true });
  });

  it('creates a user with a password', async () => {
    const res = await mgmt.users.create({
      connection: DB_CONNECTION,
      email: pwEmail,
      password: strongPassword(),
      name: 'Original Name',
      app_metadata: { plan: 'free', needsInvitation: true },
      user_metadata: { lang: 'en', theme: 'dark' },
    });
    assert.equal(res.status, 201);
    pwUser = res.data;
    assert.match(pwUser.user_id, /^auth0\|/);
    assert.equal(pwUser.name, 'Original Name');
    assert.equal(pwUser.password, undefined, 'the password must not be echoed');
  });

  it('gets a user by id', async () => {
    const res = await mgmt.users.get({ id: pwUser.user_id });
    assert.equal(res.status, 200);
    assert.equal(res.data.user_id, pwUser.user_id);
    assert.equal(res.data.email, pwEmail);
    assert.deepEqual(res.data.user_metadata, { lang: 'en', theme: 'dark' });
  });

  it('updates: metadata is merged one level deep (null removes a key), name is replaced', async () => {
    const res = await mgmt.users.update({ id: pwUser.user_id }, {
      name: 'New Name',
      app_metadata: { role: 'admin', needsInvitation: null },
      user_metadata: { tz: 'UTC', theme: null },
    });
    assert.equal(res.status, 200);
    for (const u of [res.data, (await mgmt.users.get({ id: pwUser.user_id })).data]) {
      assert.equal(u.name, 'New Name');
      assert.deepEqual(u.app_metadata, { plan: 'free', role: 'admin' });
      assert.deepEqual(u.user_metadata, { lang: 'en', tz: 'UTC' });
    }
  });

  it('lists users with include_totals and a v3 search query', async () => {
    const res = await mgmt.users.getAll({ include_totals: true, q: `email:"${invitedEmail}"`, search_engine: 'v3' });
    assert.equal(res.status, 200);
    assert.equal(res.data.total, 1, JSON.stringify(res.data));
    assert.equal(res.data.users.length, 1);
    assert.equal(res.data.users[0].user_id, invited.user_id);
  });

  it('finds users by email', async () => {
    const res = await mgmt.usersByEmail.getByEmail({ email: invitedEmail });
    assert.ok(Array.isArray(res.data), JSON.stringify(res.data));
    assert.deepEqual(res.data.map((u) => u.user_id), [invited.user_id]);
  });

  it('rejects a duplicate email with 409', async () => {
    await rejectsWith(
      mgmt.users.create({ connection: DB_CONNECTION, email: pwEmail, password: strongPassword() }),
      409,
      (_, err) => {
        assert.equal(err.message, 'The user already exists.');
        assert.equal(err.errorCode, 'auth0_idp_error');
      },
    );
  });

  it('deletes a user; getting it afterwards is a 404', async () => {
    const res = await mgmt.users.delete({ id: invited.user_id });
    assert.equal(res.status, 204);
    await rejectsWith(mgmt.users.get({ id: invited.user_id }), 404, (_, err) => {
      assert.equal(err.message, 'The user does not exist.');
      assert.equal(err.errorCode, 'inexistent_user');
    });
    invited = undefined;
  });
});

describe('v4 clients', () => {
  let created;

  after(async () => {
    if (created) await ignoreErrors(() => mgmt.clients.delete({ client_id: created.client_id }));
  });

  it('creates a client and returns its secret', async () => {
    const res = await mgmt.clients.create({
      name: unique('v4-app'),
      app_type: 'regular_web',
      callbacks: ['https://app.example.com/callback'],
      grant_types: ['authorization_code'],
    });
    assert.equal(res.status, 201);
    created = res.data;
    assert.equal(typeof created.client_id, 'string');
    assert.ok(created.client_secret, 'client_secret must be in the create response');
    assert.equal(created.is_first_party, true, 'Auth0 creates first-party clients unless told otherwise');
  });

  it('gets the client', async () => {
    const { data } = await mgmt.clients.get({ client_id: created.client_id });
    assert.equal(data.client_id, created.client_id);
    assert.equal(data.name, created.name);
    assert.deepEqual(data.callbacks, ['https://app.example.com/callback']);
  });

  it('lists clients with totals', async () => {
    const { data } = await mgmt.clients.getAll({ include_totals: true, per_page: 100 });
    assert.equal(typeof data.total, 'number', JSON.stringify(data));
    assert.ok(data.total >= 2, 'the bootstrap client and ours');
    assert.ok(data.clients.some((c) => c.client_id === created.client_id));
  });

  it('updates callbacks, grant_types and app_type', async () => {
    const patch = {
      callbacks: ['https://app.example.com/cb1', 'https://app.example.com/cb2'],
      grant_types: ['authorization_code', 'refresh_token'],
      app_type: 'spa',
    };
    const res = await mgmt.clients.update({ client_id: created.client_id }, patch);
    assert.equal(res.status, 200);
    for (const c of [res.data, (await mgmt.clients.get({ client_id: created.client_id })).data]) {
      assert.deepEqual(c.callbacks, patch.callbacks);
      assert.deepEqual(c.grant_types, patch.grant_types);
      assert.equal(c.app_type, 'spa');
    }
  });

  it('deletes the client', async () => {
    const res = await mgmt.clients.delete({ client_id: created.client_id });
    assert.equal(res.status, 204);
    await rejectsWith(mgmt.clients.get({ client_id: created.client_id }), 404);
    created = undefined;
  });
});

describe('v4 client grants', () => {
  let client;
  let grant;

  before(async () => {
    client = (await mgmt.clients.create({
      name: unique('v4-m2m'), app_type: 'non_interactive', grant_types: ['client_credentials'],
    })).data;
  });
  after(async () => {
    if (grant) await ignoreErrors(() => mgmt.clientGrants.delete({ id: grant.id }));
    if (client) await ignoreErrors(() => mgmt.clients.delete({ client_id: client.client_id }));
  });

  it('creates a grant for the Management API audience', async () => {
    const res = await mgmt.clientGrants.create({
      client_id: client.client_id, audience, scope: ['read:users', 'read:clients'],
    });
    assert.equal(res.status, 201);
    grant = res.data;
    assert.equal(typeof grant.id, 'string');
    assert.equal(grant.client_id, client.client_id);
    assert.equal(grant.audience, audience);
    assert.deepEqual(grant.scope, ['read:users', 'read:clients']);
  });

  it('lists grants filtered by client_id', async () => {
    const { data } = await mgmt.clientGrants.getAll({ client_id: client.client_id });
    assert.ok(Array.isArray(data), JSON.stringify(data));
    assert.deepEqual(data.map((g) => g.id), [grant.id]);
  });

  it('updates the scope', async () => {
    const { data } = await mgmt.clientGrants.update({ id: grant.id }, { scope: ['read:users'] });
    assert.deepEqual(data.scope, ['read:users']);
  });

  it('deletes the grant', async () => {
    const res = await mgmt.clientGrants.delete({ id: grant.id });
    assert.equal(res.status, 204);
    const { data } = await mgmt.clientGrants.getAll({ client_id: client.client_id });
    assert.deepEqual(data, []);
    grant = undefined;
  });
});

describe('v4 connections', () => {
  let conn;
  let originalOptions;

  after(async () => {
    if (conn) await mgmt.connections.update({ id: conn.id }, { options: originalOptions ?? {} });
  });

  it('lists the database connection by strategy and name', async () => {
    const { data } = await mgmt.connections.getAll({ strategy: 'auth0', name: DB_CONNECTION });
    assert.ok(Array.isArray(data), JSON.stringify(data));
    assert.equal(data.length, 1);
    assert.equal(data[0].name, DB_CONNECTION);
    assert.equal(data[0].strategy, 'auth0');
    assert.match(data[0].id, /^con_/);
    conn = data[0];
  });

  it('gets the connection by id', async () => {
    const { data } = await mgmt.connections.get({ id: conn.id });
    assert.equal(data.id, conn.id);
    assert.equal(data.name, DB_CONNECTION);
    assert.equal(typeof data.options, 'object');
    originalOptions = data.options;
  });

  it('updates options and reads them back', async () => {
    const options = {
      passwordPolicy: 'good',
      password_complexity_options: { min_length: 10 },
      disable_signup: true,
      brute_force_protection: true,
    };
    const res = await mgmt.connections.update({ id: conn.id }, { options });
    assert.equal(res.status, 200);
    for (const c of [res.data, (await mgmt.connections.get({ id: conn.id })).data]) {
      assert.equal(c.options.passwordPolicy, 'good');
      assert.deepEqual(c.options.password_complexity_options, { min_length: 10 });
      assert.equal(c.options.disable_signup, true);
      assert.equal(c.options.brute_force_protection, true);
    }
  });

  it("rejects a weak password under passwordPolicy 'good' with 400", async () => {
    await rejectsWith(
      mgmt.users.create({ connection: DB_CONNECTION, email: email('v4-weak'), password: 'password' }),
      400,
      (_, err) => assert.match(err.message, /password/i),
    );
  });

  it('PATCH replaces options as a whole', async () => {
    await mgmt.connections.update({ id: conn.id }, {
      options: { passwordPolicy: 'low', password_complexity_options: { min_length: 6 } },
    });
    const { data } = await mgmt.connections.get({ id: conn.id });
    assert.equal(data.options.passwordPolicy, 'low');
    assert.deepEqual(data.options.password_complexity_options, { min_length: 6 });
    assert.notEqual(data.options.disable_signup, true, 'disable_signup was not sent, so it must be gone');
  });
});

describe('v4 tenant settings', () => {
  it('gets, updates and reads back settings', async () => {
    const { data: before } = await mgmt.tenants.getSettings();
    assert.equal(typeof before, 'object');
    const patch = {
      friendly_name: unique('Usher v4'),
      support_email: 'support-v4@example.com',
      support_url: 'https://support.example.com/v4',
    };
    const res = await mgmt.tenants.updateSettings(patch);
    assert.equal(res.status, 200);
    for (const s of [res.data, (await mgmt.tenants.getSettings()).data]) {
      assert.equal(s.friendly_name, patch.friendly_name);
      assert.equal(s.support_email, patch.support_email);
      assert.equal(s.support_url, patch.support_url);
    }
  });
});

describe('v4 scopes', () => {
  let readOnly;
  let noGrant;
  let grant;

  before(async () => {
    readOnly = (await mgmt.clients.create({
      name: unique('v4-readonly'), app_type: 'non_interactive', grant_types: ['client_credentials'],
    })).data;
    grant = (await mgmt.clientGrants.create({ client_id: readOnly.client_id, audience, scope: ['read:users'] })).data;
    noGrant = (await mgmt.clients.create({
      name: unique('v4-nogrant'), app_type: 'non_interactive', grant_types: ['client_credentials'],
    })).data;
  });
  after(async () => {
    if (grant) await ignoreErrors(() => mgmt.clientGrants.delete({ id: grant.id }));
    for (const c of [readOnly, noGrant]) if (c) await ignoreErrors(() => mgmt.clients.delete({ client_id: c.client_id }));
  });

  const clientFor = (c) => new ManagementClient({ domain, clientId: c.client_id, clientSecret: c.client_secret });

  it('a client granted only read:users can list users', async () => {
    const { data } = await clientFor(readOnly).users.getAll({ include_totals: true, per_page: 5 });
    assert.ok(Array.isArray(data.users), JSON.stringify(data));
  });

  it('but creating a user is a 403 insufficient_scope', async () => {
    await rejectsWith(
      clientFor(readOnly).users.create({ connection: DB_CONNECTION, email: email('v4-denied'), password: strongPassword() }),
      403,
      (_, err) => {
        assert.equal(err.errorCode, 'insufficient_scope');
        assert.match(err.message, /insufficient scope/i);
      },
    );
  });

  it('a client without a grant is refused a token (403 access_denied)', async () => {
    await assert.rejects(clientFor(noGrant).users.getAll(), (err) => {
      assert.ok(err instanceof AuthApiError, `expected AuthApiError, got ${err?.name}: ${err?.message}`);
      assert.equal(err.statusCode, 403);
      assert.equal(err.error, 'access_denied');
      assert.ok(err.message, 'error_description becomes the message');
      return true;
    });
  });
});
