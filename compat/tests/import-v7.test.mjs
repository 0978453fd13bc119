// Bulk import through npm auth0@7.1.0: jobs.usersImports.create with a 2,000-row file, jobs.get,
// jobs.errors.get (rows reported by line, nothing when there are none), jobs.verificationEmail.create.
// v7 methods resolve to the body. The suite deletes the users it imported.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManagementClient, ManagementError } from 'auth0';
import {
  DB_CONNECTION, clientId, clientSecret, domain, importFile, inParallel, managementRejects, unique, waitForJob,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });
const rejectsWith = managementRejects(ManagementError);

describe('v7 users import job', () => {
  const prefix = unique('imp7');
  const { json, good, bad } = importFile(prefix, 2000);
  let connectionId;
  let job;

  after(async () => {
    await inParallel(good, 16, async (addr) => {
      for (const u of await mgmt.users.listUsersByEmail({ email: addr })) await mgmt.users.delete(u.user_id);
    });
  });

  it('accepts a 2,000-row file as a pending job', async () => {
    const page = await mgmt.connections.list({ strategy: 'auth0', name: DB_CONNECTION });
    connectionId = page.data[0].id;
    job = await mgmt.jobs.usersImports.create({
      users: new File([json], 'users.json', { type: 'application/json' }), connection_id: connectionId,
      upsert: false, send_completion_email: false, external_id: prefix,
    });
    assert.match(job.id, /^job_/);
    assert.equal(job.type, 'users_import');
    assert.equal(job.status, 'pending');
    assert.equal(job.connection_id, connectionId);
  });

  it('runs to completed, with a summary of what landed', async () => {
    job = await waitForJob(() => mgmt.jobs.get(job.id));
    assert.equal(job.status, 'completed');
    assert.equal(job.summary.total, 2000);
    assert.equal(job.summary.inserted, good.length);
    assert.equal(job.summary.failed, bad.size);
    const found = await mgmt.users.listUsersByEmail({ email: good[42] });
    assert.equal(found.length, 1);
  });

  it('reports each broken row by line with Auth0 error codes', async () => {
    const errors = await mgmt.jobs.errors.get(job.id);
    assert.ok(Array.isArray(errors));
    assert.equal(errors.length, bad.size);
    for (const e of errors) {
      assert.equal(e.errors[0].code, bad.get(e.row), JSON.stringify(e));
      assert.equal(e.line, e.row + 1);
    }
  });

  it('upserts by email: a second import updates instead of failing', async () => {
    const upd = await mgmt.jobs.usersImports.create({
      users: new File([JSON.stringify([{ email: good[0], given_name: 'Renamed' }])], 'users.json'),
      connection_id: connectionId, upsert: true,
    });
    const done = await waitForJob(() => mgmt.jobs.get(upd.id));
    assert.equal(done.summary.updated, 1);
    assert.equal(done.summary.failed, 0);
    const [u] = await mgmt.users.listUsersByEmail({ email: good[0] });
    assert.equal(u.given_name, 'Renamed');
    const { rawResponse } = await mgmt.jobs.errors.get(upd.id).withRawResponse();
    assert.equal(rawResponse.status, 204);
  });

  it('answers 404 for an unknown job', async () => {
    await rejectsWith(mgmt.jobs.get('job_doesnotexist'), 404);
  });

  it('queues a verification email as a job', async () => {
    const [u] = await mgmt.users.listUsersByEmail({ email: good[1] });
    const j = await mgmt.jobs.verificationEmail.create({ user_id: u.user_id });
    assert.equal(j.type, 'verification_email');
    assert.match(j.id, /^job_/);
  });
});
