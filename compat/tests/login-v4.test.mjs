// Logging in through npm auth0@4.37.1's Authentication API: the password-realm grant (the SDK
// validates the RS256 ID token itself against https://DOMAIN/.well-known/jwks.json), the
// refresh-token grant, /userinfo through UserInfoClient, and /dbconnections/signup, open and
// closed. The application and the user are made through the v4 ManagementClient.
// Every suite puts back the tenant state it changed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuthApiError, AuthenticationClient, ManagementClient, UserInfoClient } from 'auth0-v4';
import {
  DB_CONNECTION, LOGIN_GRANT_TYPES, LOGIN_SCOPE, assertAuthApiError, assertIdTokenClaims, clientId, clientSecret, domain,
  email, jwtPayload, strongPassword, unique, verifyWithJwks,
  ignoreErrors,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });


// A regular web application allowed the user grants, and a user with a password.
async function loginApp(prefix) {
  const { data, status } = await mgmt.clients.create({
    name: unique(prefix),
    app_type: 'regular_web',
    callbacks: ['https://app.example.com/callback'],
    grant_types: LOGIN_GRANT_TYPES,
  });
  assert.equal(status, 201);
  assert.ok(data.client_secret, 'the new application has a secret');
  assert.deepEqual(data.grant_types, LOGIN_GRANT_TYPES);
  return data;
}

describe('v4 password-realm login, refresh and userinfo', () => {
  const userEmail = email('v4-login');
  const password = strongPassword();
  let app;
  let user;
  let auth;
  let tokens;

  before(async () => {
    app = await loginApp('v4-login-app');
    const res = await mgmt.users.create({
      connection: DB_CONNECTION, email: userEmail, password, name: 'Lin Login', verify_email: false,
    });
    assert.equal(res.status, 201);
    user = res.data;
    auth = new AuthenticationClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
  });
  after(async () => {
    if (user) await ignoreErrors(() => mgmt.users.delete({ id: user.user_id }));
    if (app) await ignoreErrors(() => mgmt.clients.delete({ client_id: app.client_id }));
  });

  it('passwordGrant with a realm answers tokens; the SDK validated the RS256 ID token', async () => {
    // passwordGrant rejects when the ID token fails the SDK's checks (issuer https://DOMAIN/,
    // audience, expiry, RS256 signature by a key of the JWKS): resolving means they passed.
    const res = await auth.oauth.passwordGrant({
      username: userEmail, password, realm: DB_CONNECTION, scope: LOGIN_SCOPE,
    });
    assert.equal(res.status, 200);
    tokens = res.data;
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(typeof tokens.id_token, 'string');
    assert.equal(typeof tokens.refresh_token, 'string', 'offline_access asks for a refresh token');
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(typeof tokens.expires_in, 'number');
    assert.ok(tokens.expires_in > 0);
    const { header, payload } = await verifyWithJwks(tokens.id_token);
    assert.equal(typeof header.kid, 'string');
    assertIdTokenClaims(payload, { app, user, userEmail });
    assert.equal(payload.name, 'Lin Login');
  });

  it('the username is matched without regard to case', async () => {
    const { data } = await auth.oauth.passwordGrant({
      username: userEmail.toUpperCase(), password, realm: DB_CONNECTION, scope: 'openid',
    });
    assert.equal(jwtPayload(data.id_token).sub, user.user_id);
  });

  it('UserInfoClient.getUserInfo answers the user behind the access token', async () => {
    const res = await new UserInfoClient({ domain }).getUserInfo(tokens.access_token);
    assert.equal(res.status, 200);
    assert.equal(res.data.sub, user.user_id);
    assert.equal(res.data.email, userEmail);
    assert.equal(res.data.name, 'Lin Login');
  });

  it('refreshTokenGrant answers a new access token and a validated ID token', async () => {
    const res = await auth.oauth.refreshTokenGrant({ refresh_token: tokens.refresh_token });
    assert.equal(res.status, 200);
    assert.equal(typeof res.data.access_token, 'string');
    assert.equal(res.data.token_type, 'Bearer');
    assert.equal(typeof res.data.expires_in, 'number');
    assert.equal(typeof res.data.id_token, 'string', 'the refreshed tokens carry an ID token (openid was granted)');
    const { payload } = await verifyWithJwks(res.data.id_token);
    assertIdTokenClaims(payload, { app, user, userEmail });
    const info = await new UserInfoClient({ domain }).getUserInfo(res.data.access_token);
    assert.equal(info.data.sub, user.user_id);
  });

  it('a refresh token is bound to its application', async () => {
    const other = await loginApp('v4-login-other');
    try {
      const otherAuth = new AuthenticationClient({ domain, clientId: other.client_id, clientSecret: other.client_secret });
      await assert.rejects(otherAuth.oauth.refreshTokenGrant({ refresh_token: tokens.refresh_token }),
        (err) => assertAuthApiError(AuthApiError, err, 403, 'invalid_grant'));
    } finally {
      await ignoreErrors(() => mgmt.clients.delete({ client_id: other.client_id }));
    }
  });

  it('a wrong password rejects with invalid_grant and status 403', async () => {
    await assert.rejects(
      auth.oauth.passwordGrant({ username: userEmail, password: `${password}-wrong`, realm: DB_CONNECTION, scope: LOGIN_SCOPE }),
      (err) => {
        assertAuthApiError(AuthApiError, err, 403, 'invalid_grant');
        assert.equal(err.message, 'Wrong email or password.');
        return true;
      },
    );
  });

  it('an unknown user rejects the same way', async () => {
    await assert.rejects(
      auth.oauth.passwordGrant({ username: email('v4-nobody'), password, realm: DB_CONNECTION, scope: 'openid' }),
      (err) => {
        assertAuthApiError(AuthApiError, err, 403, 'invalid_grant');
        assert.equal(err.message, 'Wrong email or password.');
        return true;
      },
    );
  });

  it('a wrong client secret rejects with status 401', async () => {
    // The error code is left open: RFC 6749 says invalid_client (what Usher answers); Auth0 is
    // widely reported to answer access_denied "Unauthorized" here.
    const wrong = new AuthenticationClient({ domain, clientId: app.client_id, clientSecret: `${app.client_secret}x` });
    await assert.rejects(
      wrong.oauth.passwordGrant({ username: userEmail, password, realm: DB_CONNECTION, scope: 'openid' }),
      (err) => {
        assert.ok(typeof err.error === 'string' && err.error.length > 0, `error; body: ${err.body}`);
        return assertAuthApiError(AuthApiError, err, 401, err.error);
      },
    );
  });

  it('the user access token is refused by the Management API', async () => {
    const res = await fetch(`https://${domain}/api/v2/users`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    await res.arrayBuffer();
    assert.equal(res.status, 401);
  });
});

describe('v4 database sign-up', () => {
  const signedUp = [];
  let app;
  let auth;
  let conn;
  let originalOptions;

  before(async () => {
    app = await loginApp('v4-signup-app');
    auth = new AuthenticationClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
    const { data } = await mgmt.connections.getAll({ name: DB_CONNECTION });
    assert.equal(data.length, 1, JSON.stringify(data));
    conn = (await mgmt.connections.get({ id: data[0].id })).data;
    originalOptions = conn.options;
    assert.notEqual(originalOptions.disable_signup, true, 'the suite starts with sign-up open');
  });
  after(async () => {
    if (conn) await mgmt.connections.update({ id: conn.id }, { options: originalOptions ?? {} });
    for (const id of signedUp) await ignoreErrors(() => mgmt.users.delete({ id }));
    if (app) await ignoreErrors(() => mgmt.clients.delete({ client_id: app.client_id }));
  });

  async function userIdOf(address) {
    const { data } = await mgmt.usersByEmail.getByEmail({ email: address });
    return data.map((u) => u.user_id);
  }

  it('database.signUp creates a user who can then log in', async () => {
    const address = email('v4-signup');
    const password = strongPassword();
    const res = await auth.database.signUp({ email: address, password, connection: DB_CONNECTION });
    assert.equal(res.status, 200);
    assert.equal(res.data.email, address);
    assert.equal(res.data.email_verified, false);
    assert.equal(typeof res.data._id, 'string', JSON.stringify(res.data));
    assert.equal(res.data.id, res.data._id, 'the SDK copies _id into id');
    assert.equal(res.data.password, undefined, 'the password must not be echoed');
    const ids = await userIdOf(address);
    assert.deepEqual(ids, [`auth0|${res.data._id}`]);
    signedUp.push(...ids);

    const { data } = await auth.oauth.passwordGrant({ username: address, password, realm: DB_CONNECTION, scope: 'openid email' });
    assert.equal(jwtPayload(data.id_token).sub, ids[0]);
  });

  it('signing up an email twice is refused', async () => {
    const address = email('v4-signup-twice');
    const first = await auth.database.signUp({ email: address, password: strongPassword(), connection: DB_CONNECTION });
    signedUp.push(`auth0|${first.data._id}`);
    await assert.rejects(
      auth.database.signUp({ email: address, password: strongPassword(), connection: DB_CONNECTION }),
      (err) => assertAuthApiError(AuthApiError, err, 400, 'invalid_signup'),
    );
  });

  it('is refused once the connection has disable_signup: true; logging in still works', async () => {
    const { data: updated } = await mgmt.connections.update({ id: conn.id }, { options: { ...originalOptions, disable_signup: true } });
    assert.equal(updated.options.disable_signup, true);
    const address = email('v4-signup-closed');
    await assert.rejects(
      auth.database.signUp({ email: address, password: strongPassword(), connection: DB_CONNECTION }),
      (err) => assertAuthApiError(AuthApiError, err, 400, 'operation_not_allowed'),
    );
    assert.deepEqual(await userIdOf(address), [], 'no user was created');

    // An invite-only tenant still logs its users in.
    const existing = email('v4-signup-existing');
    const password = strongPassword();
    const { data: u } = await mgmt.users.create({ connection: DB_CONNECTION, email: existing, password, verify_email: false });
    signedUp.push(u.user_id);
    const { data } = await auth.oauth.passwordGrant({ username: existing, password, realm: DB_CONNECTION, scope: 'openid' });
    assert.equal(jwtPayload(data.id_token).sub, u.user_id);
  });

  it('opens again when the options are put back', async () => {
    const { data } = await mgmt.connections.update({ id: conn.id }, { options: originalOptions });
    assert.notEqual(data.options.disable_signup, true);
    const res = await auth.database.signUp({ email: email('v4-signup-reopened'), password: strongPassword(), connection: DB_CONNECTION });
    assert.equal(res.status, 200);
    signedUp.push(`auth0|${res.data._id}`);
  });
});
