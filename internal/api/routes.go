package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/features"
	"github.com/usherid/usher/internal/identity"
)

// addRoutes is the one table of every route Usher serves.
func addRoutes(mux router, d Deps) {
	ids, tokens, ms, hosted := d.Identity, d.OAuth, d.Mail, d.Pages
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(d.Ready, d.Logger))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Metrics, promhttp.HandlerOpts{}))

	// Authentication API, open to pages of the origins clients allow.
	browser := newBrowserRoutes(mux, ids, d.Logger)
	browser.Handle("GET /.well-known/openid-configuration", handleDiscovery(tokens.Issuer()))
	browser.Handle("GET /.well-known/jwks.json", handleJWKS(tokens.Keys()))
	browser.Handle("POST /oauth/token", limitPerIP(handleToken(tokens), 10, 30))
	browser.Handle("GET /userinfo", handleUserInfo(tokens))
	browser.Handle("POST /dbconnections/signup", limitPerIP(handleSignup(ids), 2, 20))
	browser.Handle("POST /dbconnections/change_password", limitPerIP(handleChangePassword(ids), 5, 50))

	// Hosted pages: a GET (or HEAD) never uses a link; the form's POST does.
	mux.Handle("GET /{$}", hosted.Home())
	mux.Handle("GET /lo/reset", hosted.ResetForm())
	mux.Handle("GET /u/reset-verify", hosted.ResetForm())
	mux.Handle("POST /lo/reset", limitPerIP(hosted.ResetSubmit(), 5, 20))
	mux.Handle("POST /lo/request", limitPerIP(hosted.RequestLink(), 1, 5))
	mux.Handle("GET /u/email-verification", hosted.VerifyForm())
	mux.Handle("POST /u/email-verification", limitPerIP(hosted.VerifySubmit(), 5, 20))
	mux.Handle("GET /u/assets/", hosted.Assets())
	mux.Handle("GET /u/theme.css", hosted.Theme())
	mux.Handle("GET /authorize", hosted.Authorize())
	mux.Handle("POST /u/login", limitPerIP(hosted.LoginSubmit(), 5, 30))
	mux.Handle("GET /u/signup", hosted.SignupForm())
	mux.Handle("POST /u/signup", limitPerIP(hosted.SignupSubmit(), 1, 10))
	mux.Handle("GET /u/reset-password/request/{connection}", hosted.ForgotForm())
	mux.Handle("POST /u/reset-password/request/{connection}", limitPerIP(hosted.ForgotSubmit(), 1, 5))
	mux.Handle("GET /v2/logout", hosted.Logout())
	mux.Handle("GET /oidc/logout", hosted.OIDCLogout())

	// The dashboard: its own table of routes, for administrators only.
	if d.Dashboard != nil {
		mux.Handle("/dashboard/", d.Dashboard)
	}

	// Management API: every route names the scopes that may call it.
	m := func(h http.Handler, scopes ...string) http.Handler {
		return requireScope(tokens, ids.ManagementAudience(), scopes, h)
	}
	mux.Handle("POST /api/v2/users", m(handleCreateUser(ids), "create:users"))
	mux.Handle("GET /api/v2/users", m(handleListUsers(ids), "read:users"))
	mux.Handle("GET /api/v2/users/{id}", m(handleGetUser(ids), "read:users"))
	mux.Handle("PATCH /api/v2/users/{id}", m(handleUpdateUser(ids), "update:users", "update:users_app_metadata"))
	mux.Handle("DELETE /api/v2/users/{id}", m(handleDeleteUser(ids), "delete:users"))
	mux.Handle("GET /api/v2/user-blocks/{id}", m(handleGetUserBlocks(ids), "read:users"))
	mux.Handle("DELETE /api/v2/user-blocks/{id}", m(handleDeleteUserBlocks(ids), "update:users"))
	mux.Handle("GET /api/v2/users-by-email", m(handleUsersByEmail(ids), "read:users"))
	mux.Handle("GET /api/v2/users/{id}/permissions", m(handleListPermissions(ids), "read:users"))
	mux.Handle("POST /api/v2/users/{id}/permissions", m(handleAssignPermissions(ids), "update:users"))
	mux.Handle("DELETE /api/v2/users/{id}/permissions", m(handleRemovePermissions(ids), "update:users"))

	mux.Handle("POST /api/v2/clients", m(handleCreateClient(ids), "create:clients"))
	mux.Handle("GET /api/v2/clients", m(handleListClients(ids), "read:clients", "read:client_keys"))
	mux.Handle("GET /api/v2/clients/{id}", m(handleGetClient(ids), "read:clients", "read:client_keys"))
	mux.Handle("PATCH /api/v2/clients/{id}", m(handleUpdateClient(ids), "update:clients", "update:client_keys"))
	mux.Handle("DELETE /api/v2/clients/{id}", m(handleDeleteClient(ids), "delete:clients"))
	mux.Handle("POST /api/v2/clients/{id}/rotate-secret", m(handleRotateSecret(ids), "update:client_keys"))

	mux.Handle("POST /api/v2/client-grants", m(handleCreateGrant(ids), "create:client_grants"))
	mux.Handle("GET /api/v2/client-grants", m(handleListGrants(ids), "read:client_grants"))
	mux.Handle("PATCH /api/v2/client-grants/{id}", m(handleUpdateGrant(ids), "update:client_grants"))
	mux.Handle("DELETE /api/v2/client-grants/{id}", m(handleDeleteGrant(ids), "delete:client_grants"))

	mux.Handle("POST /api/v2/connections", m(handleCreateConnection(ids), "create:connections"))
	mux.Handle("GET /api/v2/connections", m(handleListConnections(ids), "read:connections"))
	mux.Handle("GET /api/v2/connections/{id}", m(handleGetConnection(ids), "read:connections"))
	mux.Handle("PATCH /api/v2/connections/{id}", m(handleUpdateConnection(ids), "update:connections"))
	mux.Handle("DELETE /api/v2/connections/{id}", m(handleDeleteConnection(ids), "delete:connections"))
	mux.Handle("GET /api/v2/connections/{id}/clients", m(handleConnectionClients(ids), "read:connections"))
	mux.Handle("PATCH /api/v2/connections/{id}/clients", m(handleSetConnectionClients(ids), "update:connections"))

	// APIs: the Management API is the one.
	mux.Handle("GET /api/v2/resource-servers", m(handleListResourceServers(ids), "read:resource_servers"))
	mux.Handle("POST /api/v2/resource-servers", m(handleCreateResourceServer(ids), "create:resource_servers"))
	mux.Handle("GET /api/v2/resource-servers/{id}", m(handleGetResourceServer(ids), "read:resource_servers"))
	mux.Handle("PATCH /api/v2/resource-servers/{id}", m(handleChangeResourceServer(ids), "update:resource_servers"))
	mux.Handle("DELETE /api/v2/resource-servers/{id}", m(handleChangeResourceServer(ids), "delete:resource_servers"))

	mux.Handle("GET /api/v2/tenants/settings", m(handleGetTenantSettings(ids), "read:tenant_settings"))
	mux.Handle("PATCH /api/v2/tenants/settings", m(handleUpdateTenantSettings(ids), "update:tenant_settings"))

	imp := d.Imports
	mux.Handle("POST /api/v2/jobs/users-imports", m(handleImportUsers(imp, d.UploadStall), "create:users"))
	mux.Handle("GET /api/v2/jobs/{id}", m(handleGetJob(imp), "create:users", "read:users"))
	mux.Handle("GET /api/v2/jobs/{id}/errors", m(handleJobErrors(imp), "create:users", "read:users"))
	mux.Handle("POST /api/v2/jobs/verification-email", m(handleVerificationEmailJob(ids), "update:users"))

	mux.Handle("POST /api/v2/tickets/password-change", m(handlePasswordChangeTicket(ids), "create:user_tickets"))
	mux.Handle("POST /api/v2/tickets/email-verification", m(handleEmailVerificationTicket(ids), "create:user_tickets"))

	mux.Handle("POST /api/v2/email-templates", m(handleCreateEmailTemplate(ms), "create:email_templates"))
	mux.Handle("GET /api/v2/email-templates/{name}", m(handleGetEmailTemplate(ms), "read:email_templates"))
	mux.Handle("PUT /api/v2/email-templates/{name}", m(handleReplaceEmailTemplate(ms), "update:email_templates"))
	mux.Handle("PATCH /api/v2/email-templates/{name}", m(handleUpdateEmailTemplate(ms), "update:email_templates"))

	mux.Handle("GET /api/v2/emails/provider", m(handleGetEmailProvider(ms), "read:email_provider"))
	mux.Handle("POST /api/v2/emails/provider", m(handleCreateEmailProvider(ms), "create:email_provider"))
	mux.Handle("PATCH /api/v2/emails/provider", m(handleUpdateEmailProvider(ms), "update:email_provider"))
	mux.Handle("DELETE /api/v2/emails/provider", m(handleDeleteEmailProvider(ms), "delete:email_provider"))

	mux.Handle("GET /api/v2/branding/templates/universal-login", m(handleGetUniversalLogin(hosted), "read:branding"))
	mux.Handle("PUT /api/v2/branding/templates/universal-login", m(handleSetUniversalLogin(hosted), "update:branding"))
	mux.Handle("DELETE /api/v2/branding/templates/universal-login", m(handleDeleteUniversalLogin(hosted), "delete:branding"))

	mux.Handle("GET /api/v2/branding", m(handleGetBranding(hosted), "read:branding"))
	mux.Handle("PATCH /api/v2/branding", m(handleUpdateBranding(hosted), "update:branding"))

	mux.Handle("GET /api/v2/prompts/{prompt}/custom-text/{language}", m(handleGetCustomText(hosted), "read:prompts"))
	mux.Handle("PUT /api/v2/prompts/{prompt}/custom-text/{language}", m(handleSetCustomText(hosted), "update:prompts"))

	mux.Handle("GET /api/v2/logs", m(handleListLogs(ids), "read:logs", "read:logs_users"))

	mux.Handle("GET /api/v2/keys/signing", m(handleListSigningKeys(tokens.Keys()), "read:signing_keys"))
	mux.Handle("GET /api/v2/keys/signing/{kid}", m(handleGetSigningKey(tokens.Keys()), "read:signing_keys"))
	mux.Handle("POST /api/v2/keys/signing/rotate", m(handleRotateSigningKey(tokens.Keys()), "create:signing_keys", "update:signing_keys"))
	mux.Handle("PUT /api/v2/keys/signing/{kid}/revoke", m(handleRevokeSigningKey(tokens.Keys()), "update:signing_keys"))

	as := d.Actions
	mux.Handle("POST /api/v2/actions/actions", m(handleCreateAction(as), "create:actions"))
	mux.Handle("GET /api/v2/actions/actions", m(handleListActions(as), "read:actions"))
	mux.Handle("GET /api/v2/actions/actions/{id}", m(handleGetAction(as), "read:actions"))
	mux.Handle("PATCH /api/v2/actions/actions/{id}", m(handleUpdateAction(as), "update:actions"))
	mux.Handle("DELETE /api/v2/actions/actions/{id}", m(handleDeleteAction(as), "delete:actions"))
	mux.Handle("POST /api/v2/actions/actions/{id}/deploy", m(handleDeployAction(as), "create:actions"))
	mux.Handle("GET /api/v2/actions/actions/{id}/versions", m(handleListActionVersions(as), "read:actions"))
	mux.Handle("GET /api/v2/actions/actions/{id}/versions/{versionId}", m(handleGetActionVersion(as), "read:actions"))
	mux.Handle("GET /api/v2/actions/triggers", m(handleListTriggers(as), "read:actions"))
	mux.Handle("GET /api/v2/actions/triggers/{triggerId}/bindings", m(handleListBindings(as), "read:actions"))
	mux.Handle("PATCH /api/v2/actions/triggers/{triggerId}/bindings", m(handleUpdateBindings(as), "update:actions"))

	// Settings of features Usher fixes or does not offer, read as Usher
	// behaves; a write that repeats them is accepted (internal/features).
	// Auth0 puts risk assessment and supplemental signals under the
	// attack_protection scopes too.
	fs := features.New(identity.MaxFailedLogins)
	for path, s := range map[string]features.Setting{
		"attack-protection/brute-force-protection":      fs.BruteForce,
		"attack-protection/breached-password-detection": fs.BreachedPasswords,
		"attack-protection/suspicious-ip-throttling":    fs.SuspiciousIPs,
		"attack-protection/bot-detection":               fs.BotDetection,
		"attack-protection/captcha":                     fs.Captcha,
		"risk-assessments/settings":                     fs.RiskAssessment,
		"risk-assessments/settings/new-device":          fs.NewDevice,
		"supplemental-signals":                          fs.SupplementalSignals,
	} {
		mux.Handle("GET /api/v2/"+path, m(handleGetSetting(s), "read:attack_protection"))
		mux.Handle("PATCH /api/v2/"+path, m(handlePatchSetting(s), "update:attack_protection"))
	}
	mux.Handle("GET /api/v2/prompts", m(handleGetSetting(fs.Prompts), "read:prompts"))
	mux.Handle("PATCH /api/v2/prompts", m(handlePatchSetting(fs.Prompts), "update:prompts"))
	mux.Handle("GET /api/v2/prompts/{prompt}/partials", m(handleGetPartials(fs), "read:prompts"))
	mux.Handle("PUT /api/v2/prompts/{prompt}/partials", m(handleSetPartials(fs), "update:prompts"))
	mux.Handle("GET /api/v2/prompts/{prompt}/screen/{screen}/rendering", m(handleGetSetting(fs.ScreenRendering), "read:prompts"))
	mux.Handle("PATCH /api/v2/prompts/{prompt}/screen/{screen}/rendering", m(handlePatchSetting(fs.ScreenRendering), "update:prompts"))

	mux.Handle("GET /api/v2/guardian/factors", m(handleListFactors(fs), "read:guardian_factors"))
	mux.Handle("PUT /api/v2/guardian/factors/{name}", m(handleSetFactor(fs), "update:guardian_factors"))
	for path, s := range map[string]features.Setting{
		"sms/templates":                       fs.SMSTemplates,
		"phone/templates":                     fs.PhoneTemplates,
		"sms/providers/twilio":                fs.SMSTwilio,
		"phone/providers/twilio":              fs.PhoneTwilio,
		"push-notification/providers/sns":     fs.PushSNS,
		"push-notification/providers/apns":    fs.PushAPNS,
		"sms/selected-provider":               fs.SMSProvider,
		"phone/selected-provider":             fs.PhoneProvider,
		"push-notification/selected-provider": fs.PushProvider,
		"phone/message-types":                 fs.PhoneMessageTypes,
	} {
		mux.Handle("GET /api/v2/guardian/factors/"+path, m(handleGetSetting(s), "read:guardian_factors"))
		mux.Handle("PUT /api/v2/guardian/factors/"+path, m(handlePutSetting(s), "update:guardian_factors"))
	}
	for path, s := range map[string]features.Setting{"sns": fs.PushSNS, "apns": fs.PushAPNS, "fcm": fs.PushFCM, "fcmv1": fs.PushFCMv1} {
		mux.Handle("PATCH /api/v2/guardian/factors/push-notification/providers/"+path, m(handlePatchSetting(s), "update:guardian_factors"))
	}
	mux.Handle("PUT /api/v2/guardian/factors/push-notification/providers/fcm", m(handlePutSetting(fs.PushFCM), "update:guardian_factors"))
	mux.Handle("PUT /api/v2/guardian/factors/push-notification/providers/fcmv1", m(handlePutSetting(fs.PushFCMv1), "update:guardian_factors"))
	mux.Handle("GET /api/v2/guardian/policies", m(handleGetSetting(fs.MFAPolicies), "read:mfa_policies"))
	mux.Handle("PUT /api/v2/guardian/policies", m(handlePutSetting(fs.MFAPolicies), "update:mfa_policies"))

	// Resources Auth0 has and Usher does not: empty lists, nothing by id,
	// creates refused naming the feature.
	itemScope := map[string]string{"GET": "read", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
	for _, c := range emptyCollections {
		base := "/api/v2/" + c.path
		mux.Handle("GET "+base, m(handleEmptyList(c), "read:"+c.scope))
		if c.readOnly {
			continue
		}
		mux.Handle("POST "+base, m(handleNotOffered(c.feature, c.why), "create:"+c.scope))
		for _, method := range c.items {
			mux.Handle(method+" "+base+"/{id}", m(handleNoSuch(c.notFound()), itemScope[method]+":"+c.scope))
		}
	}
	noRole := errs.NotFound("inexistent_role", "The role does not exist.")
	mux.Handle("GET /api/v2/roles/{id}/permissions", m(handleNoSuch(noRole), "read:roles"))
	mux.Handle("POST /api/v2/roles/{id}/permissions", m(handleNoSuch(noRole), "update:roles"))
	mux.Handle("DELETE /api/v2/roles/{id}/permissions", m(handleNoSuch(noRole), "update:roles"))
	noHook := errs.NotFound("inexistent_hook", "The hook does not exist.")
	mux.Handle("GET /api/v2/hooks/{id}/secrets", m(handleNoSuch(noHook), "read:hooks"))
	mux.Handle("POST /api/v2/hooks/{id}/secrets", m(handleNoSuch(noHook), "update:hooks"))
	mux.Handle("PATCH /api/v2/hooks/{id}/secrets", m(handleNoSuch(noHook), "update:hooks"))
	mux.Handle("DELETE /api/v2/hooks/{id}/secrets", m(handleNoSuch(noHook), "delete:hooks"))
	mux.Handle("GET /api/v2/rules-configs", m(handleEmptyList(emptyCollection{shape: bareArray}), "read:rules_configs"))
	mux.Handle("PUT /api/v2/rules-configs/{key}", m(handleNotOffered("Rules", useActions), "update:rules_configs"))
	mux.Handle("DELETE /api/v2/rules-configs/{key}", m(handleNoSuch(errs.NotFound("inexistent_rules_config", "The rules config does not exist.")), "delete:rules_configs"))
	mux.Handle("GET /api/v2/custom-domains/default", m(handleNoSuch(errs.NotFound("inexistent_custom_domain", "There is no default custom domain.")), "read:custom_domains"))
	mux.Handle("PATCH /api/v2/custom-domains/default", m(handleNotOffered("Custom domains", "Usher answers on its public URL (USHER_PUBLIC_URL)"), "update:custom_domains"))
	noTheme := errs.NotFound("theme_not_found", "There is no theme: the hosted pages take their look from the branding (/api/v2/branding).")
	mux.Handle("GET /api/v2/branding/themes/default", m(handleNoSuch(noTheme), "read:branding"))
	mux.Handle("POST /api/v2/branding/themes", m(handleNotOffered("Universal Login themes", "the hosted pages take their look from the branding (PATCH /api/v2/branding) and the Universal Login template"), "update:branding"))
	mux.Handle("GET /api/v2/branding/themes/{themeId}", m(handleNoSuch(noTheme), "read:branding"))
	mux.Handle("PATCH /api/v2/branding/themes/{themeId}", m(handleNoSuch(noTheme), "update:branding"))
	mux.Handle("DELETE /api/v2/branding/themes/{themeId}", m(handleNoSuch(noTheme), "delete:branding"))

	mux.Handle("/api/v2/", handleMgmtNotFound())

	// Usher's own API, outside Auth0's paths: invitations and the mail outbox.
	mux.Handle("POST /usher/v1/invitations", m(handleCreateInvitation(ids), "create:invitations"))
	mux.Handle("GET /usher/v1/invitations", m(handleListInvitations(ids), "read:invitations"))
	mux.Handle("GET /usher/v1/invitations/{id}", m(handleGetInvitation(ids), "read:invitations"))
	mux.Handle("POST /usher/v1/invitations/{id}/resend", m(handleResendInvitation(ids), "update:invitations"))
	mux.Handle("POST /usher/v1/invitations/{id}/revoke", m(handleRevokeInvitation(ids), "update:invitations"))
	mux.Handle("GET /usher/v1/outbox", m(handleListOutbox(ms), "read:outbox"))
	mux.Handle("GET /usher/v1/outbox/{id}", m(handleGetOutboxMail(ms), "read:outbox"))
	mux.Handle("POST /usher/v1/outbox/{id}/retry", m(handleRetryOutboxMail(ms, d.WakeOutbox), "update:outbox"))

	mux.Handle("/usher/v1/", handleMgmtNotFound())
}
