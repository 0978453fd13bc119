// The invitation loop through npm auth0@7.1.0: email templates, email provider, tickets,
// change_password (AuthenticationClient from auth0/legacy), logs, the Universal Login template
// and the classic reset page. v7 methods resolve to the body; .withRawResponse() exposes the status.
// Every suite puts back the tenant state it changed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManagementClient, ManagementError } from 'auth0';
import { AuthApiError, AuthenticationClient } from 'auth0/legacy';
import {
  BROKEN_LIQUID_BODY, CHANGE_PASSWORD_SENT, DB_CONNECTION, INVITE_OR_RESET_BODY, UL_TEMPLATE, UL_TEMPLATE_NO_TAGS,
  assertErrorBody, clientId, clientSecret, domain, email, escapeRegExp, eventually, outboxFor, strongPassword, unique, usherApi,
  ignoreErrors, managementRejects,
} from './helpers.mjs';

const mgmt = new ManagementClient({ domain, clientId, clientSecret });
const ticketURL = new RegExp(`^https://${escapeRegExp(domain)}/lo/reset\\?ticket=[^#&]+#$`);

const rejectsWith = managementRejects(ManagementError);


describe('v7 email templates', () => {
  let original;

  after(async () => {
    if (original) {
      const { template, body, from, subject, syntax, urlLifetimeInSeconds, includeEmailInRedirect, enabled } = original;
      await mgmt.emailTemplates.set('reset_email',
        { template, body, from, subject, syntax, urlLifetimeInSeconds, includeEmailInRedirect, enabled });
    }
  });

  it('gets reset_email, which exists by default', async () => {
    const { data, rawResponse } = await mgmt.emailTemplates.get('reset_email').withRawResponse();
    assert.equal(rawResponse.status, 200);
    original = data;
    assert.equal(original.template, 'reset_email');
    assert.equal(typeof original.body, 'string');
    assert.ok(original.body.length > 0, 'the default template has a body');
    assert.equal(original.syntax, 'liquid');
  });

  it('updates it with the invite-or-reset Liquid body and reads it back', async () => {
    const updated = await mgmt.emailTemplates.update('reset_email',
      { body: INVITE_OR_RESET_BODY, syntax: 'liquid', enabled: true });
    for (const t of [updated, await mgmt.emailTemplates.get('reset_email')]) {
      assert.equal(t.template, 'reset_email');
      assert.equal(t.body, INVITE_OR_RESET_BODY);
      assert.equal(t.syntax, 'liquid');
      assert.equal(t.enabled, true);
      assert.equal(t.subject, original.subject, 'PATCH leaves the subject alone');
    }
  });

  it('refuses a body with broken Liquid with a 400 naming the line', async () => {
    await rejectsWith(
      mgmt.emailTemplates.update('reset_email', { body: BROKEN_LIQUID_BODY }),
      400,
      (body) => assert.match(body.message, /line\D{0,3}3\b/i, body.message),
    );
    const { body } = await mgmt.emailTemplates.get('reset_email');
    assert.equal(body, INVITE_OR_RESET_BODY, 'the refused body was not stored');
  });

  it('refuses a template field that does not match the URL (PATCH and PUT) with 400', async () => {
    const message = 'The template property provided in payload must match template in the URL.';
    await rejectsWith(
      mgmt.emailTemplates.update('reset_email', { template: 'verify_email', body: INVITE_OR_RESET_BODY }),
      400,
      (body) => assert.equal(body.message, message),
    );
    await rejectsWith(
      mgmt.emailTemplates.set('reset_email',
        { template: 'verify_email', body: INVITE_OR_RESET_BODY, syntax: 'liquid', enabled: true }),
      400,
      (body) => assert.equal(body.message, message),
    );
  });
});

describe('v7 email provider', () => {
  const password = `smtp-secret-${unique('pw')}`;
  const provider = {
    name: 'smtp',
    default_from_address: 'no-reply-v7@example.com',
    // Port 9 on the loopback refuses at once, should the outbox try it while the provider exists.
    credentials: { smtp_host: '127.0.0.1', smtp_port: 9, smtp_user: 'usher-v7', smtp_pass: password },
  };
  const allFields = { fields: 'name,enabled,credentials,default_from_address,settings', include_fields: true };
  let configured = false;

  after(async () => {
    if (configured) await mgmt.emails.provider.delete();
  });

  it('none is configured to begin with (404)', async () => {
    await rejectsWith(
      mgmt.emails.provider.get(), 404,
      (body) => assert.equal(body.message, 'Email provider has not been configured.'),
    );
  });

  it('creates an SMTP provider (201); the password is not echoed', async () => {
    const { data, rawResponse } = await mgmt.emails.provider.create(provider).withRawResponse();
    configured = true;
    assert.equal(rawResponse.status, 201);
    assert.equal(data.name, 'smtp');
    assert.equal(data.credentials?.smtp_pass, undefined);
    assert.ok(!JSON.stringify(data).includes(password), JSON.stringify(data));
  });

  it('gets only name and enabled unless fields are asked for', async () => {
    assert.deepEqual(await mgmt.emails.provider.get(), { name: 'smtp', enabled: true });
  });

  it('gets credentials and default_from_address when asked, never the password', async () => {
    const p = await mgmt.emails.provider.get(allFields);
    assert.equal(p.default_from_address, provider.default_from_address);
    assert.deepEqual(p.credentials, { smtp_host: '127.0.0.1', smtp_port: 9, smtp_user: 'usher-v7' });
    assert.ok(!JSON.stringify(p).includes(password), JSON.stringify(p));
  });

  it('a second create is a 409', async () => {
    await rejectsWith(
      mgmt.emails.provider.create(provider), 409,
      (body) => assert.equal(body.message, 'Email provider is already configured.'),
    );
  });

  it('updates the provider and reads it back', async () => {
    const updated = await mgmt.emails.provider.update({ enabled: false, default_from_address: 'invites-v7@example.com' });
    assert.equal(updated.enabled, false);
    assert.ok(!JSON.stringify(updated).includes(password), JSON.stringify(updated));
    const p = await mgmt.emails.provider.get(allFields);
    assert.equal(p.name, 'smtp');
    assert.equal(p.enabled, false);
    assert.equal(p.default_from_address, 'invites-v7@example.com');
    assert.equal(p.credentials?.smtp_host, '127.0.0.1', 'credentials not sent are kept');
  });

  it('deletes it (204); getting it afterwards is a 404', async () => {
    const { rawResponse } = await mgmt.emails.provider.delete().withRawResponse();
    assert.equal(rawResponse.status, 204);
    configured = false;
    await rejectsWith(
      mgmt.emails.provider.get(), 404,
      (body) => assert.equal(body.message, 'Email provider has not been configured.'),
    );
  });
});

// Shared by the tickets, change_password and logs suites.
const invitedEmail = email('v7-invite');
const memberEmail = email('v7-member');
let invited;
let member;

describe('v7 tickets', () => {
  before(async () => {
    invited = await mgmt.users.create({
      connection: DB_CONNECTION, email: invitedEmail, email_verified: false, verify_email: false,
      app_metadata: { needsInvitation: true },
    });
    member = await mgmt.users.create({
      connection: DB_CONNECTION, email: memberEmail, password: strongPassword(), email_verified: true, verify_email: false,
    });
  });

  it('tickets.changePassword returns a /lo/reset ticket URL ending in #', async () => {
    const { data, rawResponse } = await mgmt.tickets.changePassword({
      user_id: invited.user_id,
      result_url: 'https://app.example.com/welcome',
      ttl_sec: 3600,
      mark_email_as_verified: true,
      includeEmailInRedirect: false,
    }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    assert.match(data.ticket, ticketURL);
  });

  it('tickets.verifyEmail returns a ticket URL on the domain', async () => {
    const { data, rawResponse } = await mgmt.tickets.verifyEmail({ user_id: invited.user_id }).withRawResponse();
    assert.equal(rawResponse.status, 201);
    assert.match(data.ticket, new RegExp(`^https://${escapeRegExp(domain)}/[^?]*\\?ticket=[^#&]+`));
  });

  it('a ticket for an unknown user is a 404', async () => {
    await rejectsWith(mgmt.tickets.changePassword({ user_id: 'auth0|000000000000000000000000' }), 404);
  });
});

describe('v7 change_password (auth0/legacy AuthenticationClient.database.changePassword)', () => {
  const auth = new AuthenticationClient({ domain, clientId, clientSecret });
  const unknownEmail = email('v7-nobody');

  after(async () => {
    for (const u of [invited, member]) if (u) await ignoreErrors(() => mgmt.users.delete(u.user_id));
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
      const failed = (await mgmt.logs.list({ search: 'type:fcpr', per_page: 100 })).data;
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

  it('logs.list({search:"type:scpr"}) shows the change-password requests', async () => {
    const page = await mgmt.logs.list({ search: 'type:scpr', per_page: 100 });
    assert.ok(Array.isArray(page.data), JSON.stringify(page.response));
    assert.ok(page.data.every((e) => e.type === 'scpr'), JSON.stringify(page.data.map((e) => e.type)));
    for (const u of [invited, member]) {
      const mine = page.data.filter((e) => e.user_id === u.user_id);
      assert.equal(mine.length, 1, `one scpr for ${u.email}: ${JSON.stringify(page.response)}`);
      assert.equal(typeof mine[0].log_id, 'string');
      assert.ok(!Number.isNaN(Date.parse(mine[0].date)), `date ${mine[0].date}`);
      assert.equal(mine[0].connection, DB_CONNECTION);
    }
  });
});

describe('v7 Universal Login template', () => {
  after(async () => {
    await ignoreErrors(() => mgmt.branding.templates.deleteUniversalLogin());
  });

  it('is not set to begin with (404)', async () => {
    await rejectsWith(mgmt.branding.templates.getUniversalLogin(), 404);
  });

  it('updateUniversalLogin(string) stores it (201); {template} replaces it (204)', async () => {
    const first = await mgmt.branding.templates.updateUniversalLogin(UL_TEMPLATE).withRawResponse();
    assert.equal(first.rawResponse.status, 201);
    const again = await mgmt.branding.templates.updateUniversalLogin({ template: `${UL_TEMPLATE}\n` }).withRawResponse();
    assert.equal(again.rawResponse.status, 204);
    const third = await mgmt.branding.templates.updateUniversalLogin(UL_TEMPLATE).withRawResponse();
    assert.equal(third.rawResponse.status, 204);
  });

  it('getUniversalLogin returns it as {body}', async () => {
    assert.deepEqual(await mgmt.branding.templates.getUniversalLogin(), { body: UL_TEMPLATE });
  });

  it('a template without auth0:head and auth0:widget is a 400', async () => {
    await rejectsWith(mgmt.branding.templates.updateUniversalLogin(UL_TEMPLATE_NO_TAGS), 400);
    const { body } = await mgmt.branding.templates.getUniversalLogin();
    assert.equal(body, UL_TEMPLATE, 'the refused template was not stored');
  });

  it('deleteUniversalLogin removes it', async () => {
    const { rawResponse } = await mgmt.branding.templates.deleteUniversalLogin().withRawResponse();
    assert.equal(rawResponse.status, 204);
    await rejectsWith(mgmt.branding.templates.getUniversalLogin(), 404);
  });
});

describe('v7 tenant settings change_password', () => {
  let original;
  let read = false;

  after(async () => {
    if (read) await mgmt.tenants.settings.update({ change_password: original ?? null });
  });

  it('sets the classic reset page and reads it back', async () => {
    original = (await mgmt.tenants.settings.get()).change_password;
    read = true;
    const page = { enabled: true, html: '<html><body><form>{{ email }} {{ ticket }} {{ csrf_token }}</form></body></html>' };
    const updated = await mgmt.tenants.settings.update({ change_password: page });
    for (const s of [updated, await mgmt.tenants.settings.get()]) {
      assert.deepEqual(s.change_password, page);
    }
  });

  it('restores the previous value', async () => {
    await mgmt.tenants.settings.update({ change_password: original ?? null });
    read = false;
    assert.deepEqual((await mgmt.tenants.settings.get()).change_password, original);
  });
});
