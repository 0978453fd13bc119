// Bulk import through npm auth0@4.37.1: jobs.importUsers with a 2,000-row file, jobs.get,
// jobs.getErrors (rows reported by line, 204 when none), jobs.verifyEmail. v4 methods resolve
// to {data, status, headers}. The suite deletes the users it imported.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManagementApiError, ManagementClient } from 'auth0-v4';
import {
  DB_CONNECTION, clientId, clientSecret, domain, importFile, inParallel, managementRejects, unique, waitForJob,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });
const rejectsWith = managementRejects(ManagementApiError);

describe('v4 users import job', () => {
  const prefix = unique('imp4');
  const { json, good, bad } = importFile(prefix, 2000);
  let connectionId;
  let job;

  after(async () => {
    await inParallel(good, 16, async (addr) => {
      const { data: users } = await mgmt.usersByEmail.getByEmail({ email: addr });
      for (const u of users) await mgmt.users.delete({ id: u.user_id });
    });
  });

  it('accepts a 2,000-row file as a pending job (202)', async () => {
    const { data: conns } = await mgmt.connections.getAll({ strategy: 'auth0', name: DB_CONNECTION });
    connectionId = conns[0].id;
    assert.ok(json.length > 100_000, 'the file is larger than a toy');
    const res = await mgmt.jobs.importUsers({
      users: new Blob([json], { type: 'application/json' }), connection_id: connectionId,
      upsert: false, send_completion_email: false, external_id: prefix,
    });
    assert.equal(res.status, 202);
    job = res.data;
    assert.match(job.id, /^job_/);
    assert.equal(job.type, 'users_import');
    assert.equal(job.status, 'pending');
    assert.equal(job.connection_id, connectionId);
    assert.equal(job.external_id, prefix);
  });

  it('runs to completed, with a summary of what landed', async () => {
    job = await waitForJob(async () => (await mgmt.jobs.get({ id: job.id })).data);
    assert.equal(job.status, 'completed');
    assert.equal(job.percentage_done, 100);
    assert.deepEqual(
      { total: job.summary.total, inserted: job.summary.inserted, failed: job.summary.failed, updated: job.summary.updated },
      { total: 2000, inserted: good.length, failed: bad.size, updated: 0 },
    );
    const { data: found } = await mgmt.usersByEmail.getByEmail({ email: good[1234] });
    assert.equal(found.length, 1);
    assert.equal(found[0].given_name, `Person ${good[1234].match(/-(\d+)@/)[1]}`);
  });

  it('reports each broken row by line with Auth0 error codes', async () => {
    const { data: errors } = await mgmt.jobs.getErrors({ id: job.id });
    assert.equal(errors.length, bad.size);
    for (const e of errors) {
      assert.equal(e.errors[0].code, bad.get(e.row), JSON.stringify(e));
      assert.equal(e.line, e.row + 1, 'row n sits on line n+1, after the opening bracket');
      assert.equal(typeof e.user, 'object');
    }
  });

  it('answers 204 for the errors of a clean job, and 404 for an unknown job', async () => {
    const res = await mgmt.jobs.importUsers({
      users: new Blob([JSON.stringify([{ email: `${prefix}-solo@example.com` }])]), connection_id: connectionId,
    });
    const done = await waitForJob(async () => (await mgmt.jobs.get({ id: res.data.id })).data);
    assert.equal(done.summary.inserted, 1);
    good.push(`${prefix}-solo@example.com`);
    const errs = await mgmt.jobs.getErrors({ id: res.data.id });
    assert.equal(errs.status, 204);
    await rejectsWith(mgmt.jobs.get({ id: 'job_doesnotexist' }), 404);
  });

  it('refuses a request without a connection', async () => {
    await rejectsWith(mgmt.jobs.importUsers({ users: new Blob(['[]']), connection_id: '' }), 400);
  });

  it('queues a verification email as a job', async () => {
    const { data: users } = await mgmt.usersByEmail.getByEmail({ email: good[0] });
    const res = await mgmt.jobs.verifyEmail({ user_id: users[0].user_id });
    assert.equal(res.status, 201);
    assert.equal(res.data.type, 'verification_email');
    assert.match(res.data.id, /^job_/);
  });
});
