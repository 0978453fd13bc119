// Actions through npm auth0@4.37.1, as Auth0's invitation recipe uses them: create the post-login
// Action that clears app_metadata.needsInvitation, wait until it is built, deploy it, bind it to
// post-login, and prove that it runs at a password-realm login made through the v4
// AuthenticationClient. Also: broken code is refused when saved, a bound action is not deleted
// without force. The file leaves post-login unbound and its actions deleted, so that
// actions-v7 (run after it) starts from the same state.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuthenticationClient, ManagementApiError, ManagementClient } from 'auth0-v4';
import {
  BROKEN_ACTION_CODE, DB_CONNECTION, INVITATION_ACTION_CODE, LOGIN_GRANT_TYPES, POST_LOGIN_V3, assertErrorBody,
  assertFirstVersion, assertInvitationAction, clientId, clientSecret, domain, email, jwtPayload, pollUntilBuilt,
  strongPassword, unique,
  ignoreErrors, managementRejects,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });
const TRIGGER = 'post-login';

const rejectsWith = managementRejects(ManagementApiError);


async function boundActionIds() {
  const res = await mgmt.actions.getTriggerBindings({ triggerId: TRIGGER });
  assert.equal(res.status, 200);
  assert.ok(Array.isArray(res.data.bindings), `bindings in ${JSON.stringify(res.data)}`);
  return res.data.bindings.map((b) => b.action?.id);
}

describe('v4 actions: the invitation post-login Action', () => {
  const name = unique('v4-clear-needs-invitation');
  const userEmail = email('v4-action-invitee');
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
    // Best effort, so that a failure above does not leave a binding behind for the next file.
    await ignoreErrors(() => mgmt.actions.updateTriggerBindings({ triggerId: TRIGGER }, { bindings: [] }));
    for (const a of [action, ...extraActions]) if (a) await ignoreErrors(() => mgmt.actions.delete({ id: a.id, force: true }));
    if (user) await ignoreErrors(() => mgmt.users.delete({ id: user.user_id }));
    if (app) await ignoreErrors(() => mgmt.clients.delete({ client_id: app.client_id }));
  });

  it('getAllTriggers lists post-login in version v3', async () => {
    const res = await mgmt.actions.getAllTriggers();
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.data.triggers), `triggers in ${JSON.stringify(res.data)}`);
    const postLogin = res.data.triggers.filter((t) => t.id === TRIGGER);
    assert.ok(postLogin.some((t) => t.version === 'v3'), `post-login v3 in ${JSON.stringify(res.data.triggers)}`);
  });

  it('create refuses code with a syntax error (400), and stores nothing', async () => {
    const broken = unique('v4-broken');
    const body = await rejectsWith(mgmt.actions.create({
      name: broken, supported_triggers: POST_LOGIN_V3, code: BROKEN_ACTION_CODE, runtime: 'node22',
    }), 400);
    assert.match(body.message, /line 3\b/, `the message names line 3: ${body.message}`);
    const { data } = await mgmt.actions.getAll();
    assert.ok(!data.actions.some((a) => a.name === broken), `no action named ${broken}`);
  });

  it('create answers 201 with the action, its code verbatim', async () => {
    const res = await mgmt.actions.create({
      name, supported_triggers: POST_LOGIN_V3, code: INVITATION_ACTION_CODE, runtime: 'node22',
    });
    assert.equal(res.status, 201);
    action = res.data;
    assertInvitationAction(action, { name });
    assert.equal(action.all_changes_deployed, false, 'nothing is deployed yet');
    assert.equal(action.deployed_version ?? undefined, undefined, 'no deployed version yet');
  });

  it('get, polled until built as deploy tools do, is built at once', async () => {
    const { action: got, polls } = await pollUntilBuilt(async () => {
      const res = await mgmt.actions.get({ id: action.id });
      assert.equal(res.status, 200);
      return res.data;
    });
    assert.equal(polls, 1, 'Usher builds when the action is saved');
    assertInvitationAction(got, { name });
    assert.equal(typeof got.built_at, 'string');
  });

  it('deploy answers 202 with version 1', async () => {
    const res = await mgmt.actions.deploy({ id: action.id });
    assert.equal(res.status, 202);
    version = res.data;
    assertFirstVersion(version, action);
    const { data } = await mgmt.actions.get({ id: action.id });
    assert.equal(data.all_changes_deployed, true);
    assert.equal(data.deployed_version?.id, version.id, `deployed_version in ${JSON.stringify(data)}`);
    assert.equal(data.deployed_version.number, 1);
  });

  it('updateTriggerBindings binds it to post-login', async () => {
    const res = await mgmt.actions.updateTriggerBindings({ triggerId: TRIGGER }, {
      bindings: [{ ref: { type: 'action_id', value: action.id }, display_name: name }],
    });
    assert.equal(res.status, 200);
    assert.equal(res.data.bindings.length, 1, JSON.stringify(res.data));
    const [b] = res.data.bindings;
    assert.equal(typeof b.id, 'string');
    assert.equal(b.trigger_id, TRIGGER);
    assert.equal(b.display_name, name);
    assert.equal(b.action.id, action.id);
    assert.equal(b.action.name, name);
  });

  it('getTriggerBindings lists the binding', async () => {
    const res = await mgmt.actions.getTriggerBindings({ triggerId: TRIGGER });
    assert.equal(res.status, 200);
    assert.equal(res.data.total, 1, JSON.stringify(res.data));
    assert.deepEqual(res.data.bindings.map((b) => [b.trigger_id, b.display_name, b.action.id]), [[TRIGGER, name, action.id]]);
  });

  it('getAll with triggerId lists the action under post-login only', async () => {
    const res = await mgmt.actions.getAll({ triggerId: TRIGGER });
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.data.actions), `actions in ${JSON.stringify(res.data)}`);
    assert.equal(typeof res.data.total, 'number', `total in ${JSON.stringify(res.data)}`);
    const listed = res.data.actions.find((a) => a.id === action.id);
    assert.ok(listed, `${action.id} in ${JSON.stringify(res.data.actions.map((a) => a.id))}`);
    assert.equal(listed.name, name);
    assert.ok(res.data.actions.every((a) => a.supported_triggers.some((t) => t.id === TRIGGER)),
      JSON.stringify(res.data.actions.map((a) => a.supported_triggers)));
    const other = await mgmt.actions.getAll({ triggerId: 'pre-user-registration' });
    assert.ok(!other.data.actions.some((a) => a.id === action.id), 'not listed under pre-user-registration');
  });

  it('getAll with actionName and deployed finds it by its name', async () => {
    const res = await mgmt.actions.getAll({ actionName: name, deployed: true });
    assert.equal(res.status, 200);
    assert.deepEqual(res.data.actions.map((a) => a.id), [action.id], JSON.stringify(res.data));
    assert.equal(res.data.total, 1);
  });

  it('runs at a password-realm login: needsInvitation becomes false, logins_count 1', async () => {
    const created = await mgmt.users.create({
      connection: DB_CONNECTION, email: userEmail, password, verify_email: false,
      app_metadata: { needsInvitation: true },
    });
    assert.equal(created.status, 201);
    user = created.data;
    assert.deepEqual(user.app_metadata, { needsInvitation: true });

    const { data, status } = await mgmt.clients.create({
      name: unique('v4-action-app'), app_type: 'regular_web',
      callbacks: ['https://app.example.com/callback'], grant_types: LOGIN_GRANT_TYPES,
    });
    assert.equal(status, 201);
    app = data;

    const auth = new AuthenticationClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
    const login = await auth.oauth.passwordGrant({
      username: userEmail, password, realm: DB_CONNECTION, scope: 'openid profile email',
    });
    assert.equal(login.status, 200);
    assert.equal(jwtPayload(login.data.id_token).sub, user.user_id);

    const { data: readBack } = await mgmt.users.get({ id: user.user_id });
    assert.deepEqual(readBack.app_metadata, { needsInvitation: false }, `app_metadata in ${JSON.stringify(readBack)}`);
    assert.equal(readBack.logins_count, 1, `logins_count in ${JSON.stringify(readBack)}`);
  });

  it('delete of a bound action is a 409; the action stays', async () => {
    await rejectsWith(mgmt.actions.delete({ id: action.id }), 409);
    const res = await mgmt.actions.get({ id: action.id });
    assert.equal(res.status, 200);
    assert.deepEqual(await boundActionIds(), [action.id]);
  });

  it('delete with force removes a bound action and its binding', async () => {
    const res = await mgmt.actions.create({
      name: unique('v4-forced'), supported_triggers: POST_LOGIN_V3, code: INVITATION_ACTION_CODE, runtime: 'node22',
    });
    const forced = res.data;
    extraActions.push(forced);
    await pollUntilBuilt(async () => (await mgmt.actions.get({ id: forced.id })).data);
    assert.equal((await mgmt.actions.deploy({ id: forced.id })).status, 202);
    // Bound by name this time, after the first one.
    const bound = await mgmt.actions.updateTriggerBindings({ triggerId: TRIGGER }, {
      bindings: [
        { ref: { type: 'action_id', value: action.id }, display_name: name },
        { ref: { type: 'action_name', value: forced.name }, display_name: forced.name },
      ],
    });
    assert.deepEqual(bound.data.bindings.map((b) => b.action.id), [action.id, forced.id]);

    const del = await mgmt.actions.delete({ id: forced.id, force: true });
    assert.equal(del.status, 204);
    await rejectsWith(mgmt.actions.get({ id: forced.id }), 404);
    assert.deepEqual(await boundActionIds(), [action.id], 'only the forced binding is gone');
  });

  it('unbinding (bindings []) then delete answers 204; the action is gone', async () => {
    const res = await mgmt.actions.updateTriggerBindings({ triggerId: TRIGGER }, { bindings: [] });
    assert.equal(res.status, 200);
    assert.deepEqual(res.data.bindings, []);
    assert.deepEqual(await boundActionIds(), []);

    const del = await mgmt.actions.delete({ id: action.id });
    assert.equal(del.status, 204);
    await rejectsWith(mgmt.actions.get({ id: action.id }), 404);
    const { data } = await mgmt.actions.getAll({ triggerId: TRIGGER });
    assert.ok(!data.actions.some((a) => a.id === action.id), 'no longer listed');
  });

  it('once unbound, a login leaves needsInvitation alone', async () => {
    const { data: flagged } = await mgmt.users.update({ id: user.user_id }, { app_metadata: { needsInvitation: true } });
    assert.deepEqual(flagged.app_metadata, { needsInvitation: true });
    const auth = new AuthenticationClient({ domain, clientId: app.client_id, clientSecret: app.client_secret });
    await auth.oauth.passwordGrant({ username: userEmail, password, realm: DB_CONNECTION, scope: 'openid' });
    const { data } = await mgmt.users.get({ id: user.user_id });
    assert.deepEqual(data.app_metadata, { needsInvitation: true }, `app_metadata in ${JSON.stringify(data)}`);
    assert.equal(data.logins_count, 2);
  });
});
