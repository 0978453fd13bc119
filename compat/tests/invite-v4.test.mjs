// The invitation loop through npm auth0@4.37.1: email templates, email provider, tickets,
// change_password, logs, the Universal Login template and the classic reset page.
// v4 methods resolve to {data, status, headers}. Every suite puts back the tenant state it changed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AuthApiError, AuthenticationClient, ManagementApiError, ManagementClient } from 'auth0-v4';
import {
  BROKEN_LIQUID_BODY, CHANGE_PASSWORD_SENT, DB_CONNECTION, INVITE_OR_RESET_BODY, UL_TEMPLATE, UL_TEMPLATE_NO_TAGS,
  assertErrorBody, clientId, clientSecret, deleteEmailProvider, domain, email, escapeRegExp, eventually, outboxFor,
  strongPassword, unique, usherApi,
  ignoreErrors, managementRejects,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });
const ticketURL = new RegExp(`^https://${escapeRegExp(domain)}/lo/reset\\?ticket=[^#&]+#$`);

const rejectsWith = managementRejects(ManagementApiError);


describe('v4 email templates', () => {
  let original;

  after(async () => {
    if (original) {
      const { template, body, from, subject, syntax, urlLifetimeInSeconds, includeEmailInRedirect, enabled } = original;
      await mgmt.emailTemplates.put({ templateName: 'reset_email' },
        { template, body, from, subject, syntax, urlLifetimeInSeconds, includeEmailInRedirect, enabled });
    }
  });

  it('gets reset_email, which exists by default', async () => {
    const res = await mgmt.emailTemplates.get({ templateName: 'reset_email' });
    assert.equal(res.status, 200);
    original = res.data;
    assert.equal(original.template, 'reset_email');
    assert.equal(typeof original.body, 'string');
    assert.ok(original.body.length > 0, 'the default template has a body');
    assert.equal(original.syntax, 'liquid');
  });

  it('updates it with the invite-or-reset Liquid body and reads it back', async () => {
    const res = await mgmt.emailTemplates.update({ templateName: 'reset_email' },
      { body: INVITE_OR_RESET_BODY, syntax: 'liquid', enabled: true });
    assert.equal(res.status, 200);
    for (const t of [res.data, (await mgmt.emailTemplates.get({ templateName: 'reset_email' })).data]) {
      assert.equal(t.template, 'reset_email');
      assert.equal(t.body, INVITE_OR_RESET_BODY);
      assert.equal(t.syntax, 'liquid');
      assert.equal(t.enabled, true);
      assert.equal(t.subject, original.subject, 'PATCH leaves the subject alone');
    }
  });

  it('refuses a body with broken Liquid with a 400 naming the line', async () => {
    await rejectsWith(
      mgmt.emailTemplates.update({ templateName: 'reset_email' }, { body: BROKEN_LIQUID_BODY }),
      400,
      (_, err) => assert.match(err.message, /line\D{0,3}3\b/i, err.message),
    );
    const { data } = await mgmt.emailTemplates.get({ templateName: 'reset_email' });
    assert.equal(data.body, INVITE_OR_RESET_BODY, 'the refused body was not stored');
  });

  it('refuses a template field that does not match the URL (PATCH and PUT) with 400', async () => {
    const message = 'The template property provided in payload must match template in the URL.';
    await rejectsWith(
      mgmt.emailTemplates.update({ templateName: 'reset_email' }, { template: 'verify_email', body: INVITE_OR_RESET_BODY }),
      400,
      (_, err) => assert.equal(err.message, message),
    );
    await rejectsWith(
      mgmt.emailTemplates.put({ templateName: 'reset_email' },
        { template: 'verify_email', body: INVITE_OR_RESET_BODY, syntax: 'liquid', enabled: true }),
      400,
      (_, err) => assert.equal(err.message, message),
    );
  });
});

describe('v4 email provider', () => {
  const password = `smtp-secret-${unique('pw')}`;
  const provider = {
    name: 'smtp',
    default_from_address: 'no-reply-v4@example.com',
    // Port 9 on the loopback refuses at once, should the outbox try it while the provider exists.
    credentials: { smtp_host: '127.0.0.1', smtp_port: 9, smtp_user: 'usher-v4', smtp_pass: password },
  };
  const allFields = { fields: 'name,enabled,credentials,default_from_address,settings', include_fields: true };

  // v4 has no method to delete the provider: a plain DELETE puts the tenant back as it was.
  after(deleteEmailProvider);

  it('none is configured to begin with (404)', async () => {
    await rejectsWith(
      mgmt.emails.get(), 404,
      (_, err) => assert.equal(err.message, 'Email provider has not been configured.'),
    );
  });

  it('configures an SMTP provider (201); the password is not echoed', async () => {
    const res = await mgmt.emails.configure(provider);
    assert.equal(res.status, 201);
    assert.equal(res.data.name, 'smtp');
    assert.equal(res.data.credentials?.smtp_pass, undefined);
    assert.ok(!JSON.stringify(res.data).includes(password), JSON.stringify(res.data));
  });

  it('gets only name and enabled unless fields are asked for', async () => {
    const res = await mgmt.emails.get();
    assert.equal(res.status, 200);
    assert.deepEqual(res.data, { name: 'smtp', enabled: true });
  });

  it('gets credentials and default_from_address when asked, never the password', async () => {
    const { data } = await mgmt.emails.get(allFields);
    assert.equal(data.default_from_address, provider.default_from_address);
    assert.deepEqual(data.credentials, { smtp_host: '127.0.0.1', smtp_port: 9, smtp_user: 'usher-v4' });
    assert.ok(!JSON.stringify(data).includes(password), JSON.stringify(data));
  });

  it('a second configure is a 409', async () => {
    await rejectsWith(
      mgmt.emails.configure(provider), 409,
      (_, err) => assert.equal(err.message, 'Email provider is already configured.'),
    );
  });

  it('updates the provider and reads it back', async () => {
    const res = await mgmt.emails.update({ enabled: false, default_from_address: 'invites-v4@example.com' });
    assert.equal(res.status, 200);
    assert.equal(res.data.enabled, false);
    assert.ok(!JSON.stringify(res.data).includes(password), JSON.stringify(res.data));
    const { data } = await mgmt.emails.get(allFields);
    assert.equal(data.name, 'smtp');
    assert.equal(data.enabled, false);
    assert.equal(data.default_from_address, 'invites-v4@example.com');
    assert.equal(data.credentials?.smtp_host, '127.0.0.1', 'credentials not sent are kept');
  });
});

// Shared by the tickets, change_password and logs suites.
const invitedEmail = email('v4-invite');
const memberEmail = email('v4-member');
let invited;
let member;

describe('v4 tickets', () => {
  before(async () => {
    invited = (await mgmt.users.create({
      connection: DB_CONNECTION, email: invitedEmail, email_verified: false, verify_email: false,
      app_metadata: { needsInvitation: true },
    })).data;
    member = (await mgmt.users.create({
      connection: DB_CONNECTION, email: memberEmail, password: strongPassword(), email_verified: true, verify_email: false,
    })).data;
  });

  it('tickets.changePassword returns a /lo/reset ticket URL ending in #', async () => {
    const res = await mgmt.tickets.changePassword({
      user_id: invited.user_id,
      result_url: 'https://app.example.com/welcome',
      ttl_sec: 3600,
      mark_email_as_verified: true,
      includeEmailInRedirect: false,
    });
    assert.equal(res.status, 201);
    assert.match(res.data.ticket, ticketURL);
  });

  it('tickets.verifyEmail returns a ticket URL on the domain', async () => {
    const res = await mgmt.tickets.verifyEmail({ user_id: invited.user_id });
    assert.equal(res.status, 201);
    assert.match(res.data.ticket, new RegExp(`^https://${escapeRegExp(domain)}/[^?]*\\?ticket=[^#&]+`));
  });

  it('a ticket for an unknown user is a 404', async () => {
    await rejectsWith(mgmt.tickets.changePassword({ user_id: 'auth0|000000000000000000000000' }), 404);
  });
});

describe('v4 change_password (AuthenticationClient.database.changePassword)', () => {
  const auth = new AuthenticationClient({ domain, clientId, clientSecret });
  const unknownEmail = email('v4-nobody');

  after(async () => {
    for (const u of [invited, member]) if (u) await ignoreErrors(() => mgmt.users.delete({ id: u.user_id }));
  });

  for (const [who, addr] of [['an invited user', () => invitedEmail], ['a member', () => memberEmail],
    ['an unknown email', () => unknownEmail]]) {
    it(`answers Auth0's sentence for ${who}`, async () => {
      const res = await auth.database.changePassword({ email: addr(), connection: DB_CONNECTION });
      assert.equal(res.status, 200);
      assert.equal(res.data, CHANGE_PASSWORD_SENT);
    });
  }

  it('the mails wait in the outbox, rendered from the invite-or-reset template', async () => {
    for (const [addr, type] of [[invitedEmail, 'invite'], [memberEmail, 'reset']]) {
      // The mail is queued just after the answer, so that the answer takes as long for unknown emails.
      const mails = await eventually(async () => {
        const found = (await outboxFor(addr)).filter((m) => m.template === 'reset_email');
        assert.equal(found.length, 1, JSON.stringify(found));
        return found;
      });
      assert.equal(mails[0].status, 'queued', 'no SMTP is configured');
      const { status, body } = await usherApi(`outbox/${encodeURIComponent(mails[0].id)}`);
      assert.equal(status, 200, JSON.stringify(body));
      const link = new RegExp(`href="https://${escapeRegExp(domain)}/lo/reset\\?ticket=[^#"&]+#type=${type}"`);
      assert.match(body.html, link, body.html);
    }
  });

  it('nothing is sent to an unknown email, and the refusal is logged', async () => {
    await eventually(async () => {
      const failed = (await mgmt.logs.getAll({ q: 'type:fcpr', per_page: 100 })).data;
      assert.ok(failed.some((e) => e.user_name === unknownEmail), JSON.stringify(failed));
    });
    assert.deepEqual(await outboxFor(unknownEmail), []);
  });

  it('an unknown connection is refused by the Authentication API', async () => {
    await assert.rejects(auth.database.changePassword({ email: memberEmail, connection: unique('no-such-db') }), (err) => {
      assert.ok(err instanceof AuthApiError, `expected AuthApiError, got ${err?.name}: ${err?.message}`);
      assert.equal(err.statusCode, 400);
      return true;
    });
  });

  it('logs.getAll({q:"type:scpr"}) shows the change-password requests', async () => {
    const res = await mgmt.logs.getAll({ q: 'type:scpr', per_page: 100 });
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.data), JSON.stringify(res.data));
    assert.ok(res.data.every((e) => e.type === 'scpr'), JSON.stringify(res.data.map((e) => e.type)));
    for (const u of [invited, member]) {
      const mine = res.data.filter((e) => e.user_id === u.user_id);
      assert.equal(mine.length, 1, `one scpr for ${u.email}: ${JSON.stringify(res.data)}`);
      assert.equal(typeof mine[0].log_id, 'string');
      assert.ok(!Number.isNaN(Date.parse(mine[0].date)), `date ${mine[0].date}`);
      assert.equal(mine[0].connection, DB_CONNECTION);
    }
  });
});

describe('v4 Universal Login template', () => {
  after(async () => {
    await ignoreErrors(() => mgmt.branding.deleteUniversalLoginTemplate());
  });

  it('is not set to begin with (404)', async () => {
    await rejectsWith(mgmt.branding.getUniversalLoginTemplate(), 404);
  });

  it('setUniversalLoginTemplate({template}) stores it (201) and replaces it (204)', async () => {
    const first = await mgmt.branding.setUniversalLoginTemplate({ template: UL_TEMPLATE });
    assert.equal(first.status, 201);
    const again = await mgmt.branding.setUniversalLoginTemplate({ template: `${UL_TEMPLATE}\n` });
    assert.equal(again.status, 204);
  });

  it('getUniversalLoginTemplate returns it as {body}', async () => {
    const res = await mgmt.branding.getUniversalLoginTemplate();
    assert.equal(res.status, 200);
    assert.equal(res.data.body, `${UL_TEMPLATE}\n`);
  });

  it('a template without auth0:head and auth0:widget is a 400', async () => {
    await rejectsWith(mgmt.branding.setUniversalLoginTemplate({ template: UL_TEMPLATE_NO_TAGS }), 400);
    const { data } = await mgmt.branding.getUniversalLoginTemplate();
    assert.equal(data.body, `${UL_TEMPLATE}\n`, 'the refused template was not stored');
  });

  it('deleteUniversalLoginTemplate removes it', async () => {
    const res = await mgmt.branding.deleteUniversalLoginTemplate();
    assert.equal(res.status, 204);
    await rejectsWith(mgmt.branding.getUniversalLoginTemplate(), 404);
  });
});

describe('v4 tenant settings change_password', () => {
  let original;
  let read = false;

  after(async () => {
    if (read) await mgmt.tenants.updateSettings({ change_password: original ?? null });
  });

  it('sets the classic reset page and reads it back', async () => {
    original = (await mgmt.tenants.getSettings()).data.change_password;
    read = true;
    const page = { enabled: true, html: '<html><body><form>{{ email }} {{ ticket }} {{ csrf_token }}</form></body></html>' };
    const res = await mgmt.tenants.updateSettings({ change_password: page });
    assert.equal(res.status, 200);
    for (const s of [res.data, (await mgmt.tenants.getSettings()).data]) {
      assert.deepEqual(s.change_password, page);
    }
  });

  it('restores the previous value', async () => {
    const res = await mgmt.tenants.updateSettings({ change_password: original ?? null });
    assert.equal(res.status, 200);
    read = false;
    assert.deepEqual((await mgmt.tenants.getSettings()).data.change_password, original);
  });
});
