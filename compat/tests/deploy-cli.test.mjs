// Auth0's Deploy CLI (npm auth0-deploy-cli, `a0deploy`), the way teams keep a tenant in git: a plain
// `a0deploy export` of the suite's server, with no include list (so every resource type it knows is
// read), then `a0deploy import` of that export into a second, empty Usher started for this file.
// The export runs after a client with a grant, a database connection, an email template and an
// Action were made on the first server; the test checks that they arrived on the second. Only the
// Management API's address differs between the two servers; the export's copy of it (the grant's
// audience, the dashboard's callbacks) is rewritten for the second, as one does with a keyword
// mapping when moving a tenant's configuration. This file puts back what it changed on the suite's
// server, and binds no Action there.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ManagementClient } from 'auth0';
import { startUsher } from '../server.mjs';
import {
  INVITATION_ACTION_CODE, POST_LOGIN_V3, clientId, clientSecret, domain, ignoreErrors, pollUntilBuilt, unique,
} from './helpers.mjs';

for (const name of ['USHER_BIN', 'USHER_COMPAT_CERT_FILE', 'USHER_COMPAT_KEY_FILE']) {
  if (!process.env[name]) throw new Error(`${name} is not set; run the suite with "node compat/run.mjs"`);
}

const a0deploy = createRequire(import.meta.url).resolve('auth0-deploy-cli/lib/index.js');
const source = new ManagementClient({ domain, clientId, clientSecret });
// a0deploy's import validates the files against its schema first: ~20 s of CPU on its own.
const SLOW = { timeout: 240_000 };

// runDeployCLI runs a0deploy with args and a config file for the server at target; it resolves
// to its output, and fails with that output unless it exits with 0.
async function runDeployCLI(dir, target, args) {
  const config = path.join(dir, `config-${target.domain.replace(/\W/g, '-')}.json`);
  fs.writeFileSync(config, JSON.stringify({
    AUTH0_DOMAIN: target.domain, AUTH0_CLIENT_ID: target.clientId, AUTH0_CLIENT_SECRET: target.clientSecret,
  }));
  const child = spawn(process.execPath, [a0deploy, ...args, '-c', config], { cwd: dir, env: process.env });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? sig)));
  // eslint-disable-next-line no-control-regex
  output = output.replace(/\x1b\[[0-9;]*m/g, '');
  assert.equal(code, 0, `a0deploy ${args.join(' ')} exited with ${code}:\n${output}`);
  return output;
}

// errorLines are the lines a0deploy logs as errors, which it does for failures it carries on after.
const errorLines = (output) => output.split('\n').filter((l) => / - error: /.test(l));

// replaceInFiles rewrites every file under dir.
function replaceInFiles(dir, from, to) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) replaceInFiles(p, from, to);
    else fs.writeFileSync(p, fs.readFileSync(p, 'utf8').split(from).join(to));
  }
}

const readJSON = (...parts) => JSON.parse(fs.readFileSync(path.join(...parts), 'utf8'));

describe('Deploy CLI 8.44: export without an include list, import into an empty Usher', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usher-a0deploy-'));
  const exported = path.join(dir, 'export');
  const appName = unique('a0deploy-app');
  const backendName = unique('a0deploy-backend');
  const connName = unique('a0deploy-db');
  const actionName = unique('a0deploy-action');
  const template = { body: `<p>Blocked: {{ user.email }} (${appName})</p>`, subject: `Blocked ${appName}`, enabled: true };
  let app;
  let backend;
  let conn;
  let action;
  let originalTemplate;
  let target;

  before(async () => {
    app = await source.clients.create({
      name: appName, app_type: 'regular_web', callbacks: ['https://app.example.com/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    backend = await source.clients.create({ name: backendName, app_type: 'non_interactive', grant_types: ['client_credentials'] });
    await source.clientGrants.create({ client_id: backend.client_id, audience: `https://${domain}/api/v2/`, scope: ['read:users'] });
    conn = await source.connections.create({
      name: connName, strategy: 'auth0', enabled_clients: [app.client_id],
      options: { disable_signup: true, passwordPolicy: 'fair', brute_force_protection: true },
    });
    originalTemplate = await source.emailTemplates.get('blocked_account');
    await source.emailTemplates.update('blocked_account', template);
    action = await source.actions.create({ name: actionName, supported_triggers: POST_LOGIN_V3, code: INVITATION_ACTION_CODE, runtime: 'node22' });
    await pollUntilBuilt(() => source.actions.get(action.id));
    await source.actions.deploy(action.id);

    target = await startUsher({
      bin: process.env.USHER_BIN, dir: path.join(dir, 'target'),
      certFile: process.env.USHER_COMPAT_CERT_FILE, keyFile: process.env.USHER_COMPAT_KEY_FILE,
    });
  });

  after(async () => {
    if (target) await target.stop();
    if (action) await ignoreErrors(() => source.actions.delete(action.id, { force: true }));
    if (conn) await ignoreErrors(() => source.connections.delete(conn.id));
    for (const c of [app, backend]) if (c) await ignoreErrors(() => source.clients.delete(c.client_id));
    if (originalTemplate) {
      const { body, subject, enabled } = originalTemplate;
      await ignoreErrors(() => source.emailTemplates.update('blocked_account', { body, subject, enabled }));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exports every resource type from Usher, without an include list', SLOW, async () => {
    const output = await runDeployCLI(dir, { domain, clientId, clientSecret }, ['export', '-f', 'directory', '-o', exported]);
    assert.match(output, /Export Successful/);
    assert.deepEqual(errorLines(output), [], 'a0deploy logged no error');
    // What Usher has, as it has it.
    assert.ok(fs.existsSync(path.join(exported, 'clients', `${appName}.json`)), 'the client was exported');
    const db = readJSON(exported, 'database-connections', connName, 'database.json');
    assert.deepEqual(db.enabled_clients, [appName], 'enabled clients by name');
    assert.equal(fs.readFileSync(path.join(exported, 'emails', 'blocked_account.html'), 'utf8'), template.body);
    assert.equal(readJSON(exported, 'actions', `${actionName}.json`).deployed, true);
    // What Usher fixes, or does not offer, reads as Usher behaves.
    assert.equal(readJSON(exported, 'attack-protection', 'brute-force-protection.json').max_attempts, 10);
    assert.equal(readJSON(exported, 'attack-protection', 'breached-password-detection.json').enabled, false);
    assert.deepEqual(readJSON(exported, 'guardian', 'factors', 'otp.json'), { name: 'otp', enabled: false });
    assert.deepEqual(readJSON(exported, 'prompts', 'prompts.json'), { universal_login_experience: 'new', identifier_first: false });
    const rules = path.join(exported, 'rules');
    assert.deepEqual(fs.existsSync(rules) ? fs.readdirSync(rules) : [], [], 'no rules');
  });

  it('imports that export into an empty Usher', SLOW, async () => {
    replaceInFiles(exported, domain, target.domain);
    const output = await runDeployCLI(dir, target, ['import', '-i', exported]);
    assert.match(output, /Import Successful/);
    assert.deepEqual(errorLines(output), [], 'a0deploy logged no error');
  });

  it('the second Usher has the clients, the grant, the connection, the template and the action', async () => {
    const mgmt = new ManagementClient({ domain: target.domain, clientId: target.clientId, clientSecret: target.clientSecret });
    const clients = (await mgmt.clients.list({ per_page: 100 })).data;
    const imported = clients.find((c) => c.name === appName);
    assert.ok(imported, `${appName} among ${clients.map((c) => c.name)}`);
    assert.deepEqual(imported.callbacks, ['https://app.example.com/callback']);
    const importedBackend = clients.find((c) => c.name === backendName);
    assert.ok(importedBackend, `${backendName} among ${clients.map((c) => c.name)}`);
    const grants = (await mgmt.clientGrants.list({ client_id: importedBackend.client_id })).data;
    assert.deepEqual(grants.map((g) => [g.audience, g.scope]), [[`https://${target.domain}/api/v2/`, ['read:users']]]);

    const conns = (await mgmt.connections.list({ name: connName })).data;
    assert.equal(conns.length, 1, `one connection named ${connName}`);
    assert.deepEqual(conns[0].enabled_clients, [imported.client_id]);
    assert.equal(conns[0].options.disable_signup, true);

    const t = await mgmt.emailTemplates.get('blocked_account');
    assert.deepEqual({ body: t.body, subject: t.subject, enabled: t.enabled }, template);

    const actions = (await mgmt.actions.list({ actionName })).data;
    assert.equal(actions.length, 1, `one action named ${actionName}`);
    assert.equal(actions[0].code, INVITATION_ACTION_CODE);
    assert.equal(actions[0].all_changes_deployed, true, 'deployed');
  });
});
