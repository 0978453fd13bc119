// Actions through npm auth0@7.1.0, as Auth0's invitation recipe uses them: create the post-login
// Action that clears app_metadata.needsInvitation, wait until it is built, deploy it, bind it to
// post-login, and prove that it runs at a password-realm login made through the AuthenticationClient
// of auth0/legacy (v7's main entry has none). Also: broken code is refused when saved, a bound
// action is not deleted without force. The file leaves post-login unbound and its actions deleted,
// as actions-v4 (run before it) does.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManagementClient, ManagementError } from 'auth0';
import { AuthenticationClient } from 'auth0/legacy';
import {
  BROKEN_ACTION_CODE, DB_CONNECTION, INVITATION_ACTION_CODE, LOGIN_GRANT_TYPES, POST_LOGIN_V3, assertErrorBody,
  assertFirstVersion, assertInvitationAction, clientId, clientSecret, domain, email, jwtPayload, pollUntilBuilt,
  strongPassword, unique,
  ignoreErrors, managementRejects,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });
const TRIGGER = 'post-login';

const rejectsWith = managementRejects(ManagementError);


async function boundActionIds() {
  const page = await mgmt.actions.triggers.bindings.list(TRIGGER);
  assert.equal(page.rawResponse.status, 200);
  return page.data.map((b) => b.action?.id);
}

describe('v7 actions: the invitation post-login Action', () => {
  const name = unique('v7-clear-needs-invitation');
  const userEmail = email('v7-action-invitee');
  const password = strongPassword();
  let action;
  let version;
  let app;
  let user;
  const extraActions = [];

  before(async () => {
    assert.deepEqual(await boundActionIds(), [], 'the suite starts with nothing bound to post-login');
  });
  after(async () => {
    // Best effort, so that a failure above does not leave a binding behind.
    await ignoreErrors(() => mgmt.actions.triggers.bindings.updateMany(TRIGGER, { bindings: [] }));
    for (const a of [action, ...extraActions]) if (a) await ignoreErrors(() => mgmt.actions.delete(a.id, { force: true }));
    if (user) await ignoreErrors(() => mgmt.users.delete(user.user_id));
    if (app) await ignoreErrors(() => mgmt.clients.delete(app.client_id));
  });

  it('triggers.list lists post-login in version v3', async () => {
    const { data, rawResponse } = await mgmt.actions.triggers.list().withRawResponse();
    assert.equal(rawResponse.status, 200);
    assert.ok(Array.isArray(data.triggers), `triggers in ${JSON.stringify(data)}`);
    const postLogin = data.triggers.filter((t) => t.id === TRIGGER);
    assert.ok(postLogin.some((t) => t.version === 'v3'), `post-login v3 in ${JSON.stringify(data.triggers)}`);
  });

  it('create refuses code with a syntax error (400), and stores nothing', async () => {
    const broken = unique('v7-broken');
    const body = await rejectsWith(mgmt.actions.create({
      name: broken, supported_triggers: POST_LOGIN_V3, code: BROKEN_ACTION_CODE, runtime: 'node22',
    }), 400);
    assert.match(body.message, /line 3\b/, `the message names line 3: ${body.message}`);
    const page = await mgmt.actions.list();
    assert.ok(!page.data.some((a) => a.name === broken), `no action named ${broken}`);
  });

  it('create answers 201 with the action, its code verbatim', async () => {
    const { data, rawResponse } = await mgmt.actions.create({
      name, supported_triggers: POST_LOGIN_V3, code: INVITATION_ACTION_CODE, runtime: 'node22',
    }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    action = data;
    assertInvitationAction(action, { name });
    assert.equal(action.all_changes_deployed, false, 'nothing is deployed yet');
    assert.equal(action.deployed_version ?? undefined, undefined, 'no deployed version yet');
  });

  it('get, polled until built as deploy tools do, is built at once', async () => {
    const { action: got, polls } = await pollUntilBuilt(async () => {
      const { data, rawResponse } = await mgmt.actions.get(action.id).withRawResponse();
      assert.equal(rawResponse.status, 200);
      return data;
    });
    assert.equal(polls, 1, 'Usher builds when the action is saved');
    assertInvitationAction(got, { name });
    assert.equal(typeof got.built_at, 'string');
  });

  it('deploy answers 202 with version 1', async () => {
    const { data, rawResponse } = await mgmt.actions.deploy(action.id).withRawResponse();
    assert.equal(rawResponse.status, 202);
    version = data;
    assertFirstVersion(version, action);
    const got = await mgmt.actions.get(action.id);
    assert.equal(got.all_changes_deployed, true);
    assert.equal(got.deployed_version?.id, version.id, `deployed_version in ${JSON.stringify(got)}`);
    assert.equal(got.deployed_version.number, 1);
  });

  it('triggers.bindings.updateMany binds it to post-login', async () => {
    const { data, rawResponse } = await mgmt.actions.triggers.bindings.updateMany(TRIGGER, {
      bindings: [{ ref: { type: 'action_id', value: action.id }, display_name: name }],
    }).withRawResponse();
    assert.equal(rawResponse.status, 200);
    assert.equal(data.bindings.length, 1, JSON.stringify(data));
    const [b] = data.bindings;
    assert.equal(typeof b.id, 'string');
    assert.equal(b.trigger_id, TRIGGER);
    assert.equal(b.display_name, name);
    assert.equal(b.action.id, action.id);
    assert.equal(b.action.name, name);
  });

  it('triggers.bindings.list lists the binding', async () => {
    const page = await mgmt.actions.triggers.bindings.list(TRIGGER);
    assert.equal(page.rawResponse.status, 200);
    assert.equal(page.response.total, 1, JSON.stringify(page.response));
    assert.deepEqual(page.data.map((b) => [b.trigger_id, b.display_name, b.action.id]), [[TRIGGER, name, action.id]]);
    // Without per_page the SDK asks for page 1 after any non-empty page; iterating must stop there.
    const all = [];
    for await (const b of page) all.push(b.action.id);
    assert.deepEqual(all, [action.id], 'iterating the pages yields the one binding once');
  });

  it('list with triggerId lists the action under post-login only', async () => {
    const page = await mgmt.actions.list({ triggerId: TRIGGER });
    assert.equal(page.rawResponse.status, 200);
    assert.equal(typeof page.response.total, 'number', `total in ${JSON.stringify(page.response)}`);
    const listed = page.data.find((a) => a.id === action.id);
    assert.ok(listed, `${action.id} in ${JSON.stringify(page.data.map((a) => a.id))}`);
    assert.equal(listed.name, name);
    assert.ok(page.data.every((a) => a.supported_triggers.some((t) => t.id === TRIGGER)),
      JSON.stringify(page.data.map((a) => a.supported_triggers)));
    const other = await mgmt.actions.list({ triggerId: 'pre-user-registration' });
    assert.ok(!other.data.some((a) => a.id === action.id), 'not listed under pre-user-registration');
  });

  it('list with actionName and deployed finds it by its name', async () => {
    const page = await mgmt.actions.list({ actionName: name, deployed: true });
    assert.deepEqual(page.data.map((a) => a.id), [action.id], JSON.stringify(page.response));
    assert.equal(page.response.total, 1);
  });

  it('runs at a password-realm login: needsInvitation becomes false, logins_count 1', async () => {
    const created = await mgmt.users.create({
      connection: DB_CONNECTION, email: userEmail, password, verify_email: false,
      app_metadata: { needsInvitation: true },
    }).withRawResponse();
    assert.equal(created.rawResponse.status, 201);
    user = created.data;
    assert.deepEqual(user.app_metadata, { needsInvitation: true });

    const { data, rawResponse } = await mgmt.clients.create({
      name: unique('v7-action-app'), app_type: 'regular_web',
      callbacks: ['https://app.example.com/callback'], grant_types: LOGIN_GRANT_TYPES,
    }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    app = data;

    const auth = new AuthenticationClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
    const login = await auth.oauth.passwordGrant({
      username: userEmail, password, realm: DB_CONNECTION, scope: 'openid profile email',
    });
    assert.equal(login.status, 200);
    assert.equal(jwtPayload(login.data.id_token).sub, user.user_id);

    const readBack = await mgmt.users.get(user.user_id);
    assert.deepEqual(readBack.app_metadata, { needsInvitation: false }, `app_metadata in ${JSON.stringify(readBack)}`);
    assert.equal(readBack.logins_count, 1, `logins_count in ${JSON.stringify(readBack)}`);
  });

  it('delete of a bound action is a 409; the action stays', async () => {
    await rejectsWith(mgmt.actions.delete(action.id), 409);
    const { rawResponse } = await mgmt.actions.get(action.id).withRawResponse();
    assert.equal(rawResponse.status, 200);
    assert.deepEqual(await boundActionIds(), [action.id]);
  });

  it('delete with force removes a bound action and its binding', async () => {
    const forced = await mgmt.actions.create({
      name: unique('v7-forced'), supported_triggers: POST_LOGIN_V3, code: INVITATION_ACTION_CODE, runtime: 'node22',
    });
    extraActions.push(forced);
    await pollUntilBuilt(() => mgmt.actions.get(forced.id));
    assert.equal((await mgmt.actions.deploy(forced.id).withRawResponse()).rawResponse.status, 202);
    // Bound by name this time, after the first one.
    const bound = await mgmt.actions.triggers.bindings.updateMany(TRIGGER, {
      bindings: [
        { ref: { type: 'action_id', value: action.id }, display_name: name },
        { ref: { type: 'action_name', value: forced.name }, display_name: forced.name },
      ],
    });
    assert.deepEqual(bound.bindings.map((b) => b.action.id), [action.id, forced.id]);

    const del = await mgmt.actions.delete(forced.id, { force: true }).withRawResponse();
    assert.equal(del.rawResponse.status, 204);
    await rejectsWith(mgmt.actions.get(forced.id), 404);
    assert.deepEqual(await boundActionIds(), [action.id], 'only the forced binding is gone');
  });

  it('unbinding (bindings []) then delete answers 204; the action is gone', async () => {
    const { data, rawResponse } = await mgmt.actions.triggers.bindings.updateMany(TRIGGER, { bindings: [] }).withRawResponse();
    assert.equal(rawResponse.status, 200);
    assert.deepEqual(data.bindings, []);
    assert.deepEqual(await boundActionIds(), []);

    const del = await mgmt.actions.delete(action.id).withRawResponse();
    assert.equal(del.rawResponse.status, 204);
    await rejectsWith(mgmt.actions.get(action.id), 404);
    const page = await mgmt.actions.list({ triggerId: TRIGGER });
    assert.ok(!page.data.some((a) => a.id === action.id), 'no longer listed');
  });

  it('once unbound, a login leaves needsInvitation alone', async () => {
    const flagged = await mgmt.users.update(user.user_id, { app_metadata: { needsInvitation: true } });
    assert.deepEqual(flagged.app_metadata, { needsInvitation: true });
    const auth = new AuthenticationClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
    await auth.oauth.passwordGrant({ username: userEmail, password, realm: DB_CONNECTION, scope: 'openid' });
    const readBack = await mgmt.users.get(user.user_id);
    assert.deepEqual(readBack.app_metadata, { needsInvitation: true }, `app_metadata in ${JSON.stringify(readBack)}`);
    assert.equal(readBack.logins_count, 2);
  });
});
