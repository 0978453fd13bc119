package main

// A malformed-bytes pass over every route the server has: the routes come
// from the server's own tables (api.Routes, dashboard.Routes), so a new
// route is probed without anyone listing it here; only what its body holds
// must be said (the test fails until it is).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherid/usher/internal/actions"
	"github.com/usherid/usher/internal/api"
	"github.com/usherid/usher/internal/dashboard"
	"github.com/usherid/usher/internal/identity"
	"github.com/usherid/usher/internal/mail"
	"github.com/usherid/usher/internal/pages"
)

// caller is who sends a probe.
type caller int

const (
	anonymous     caller = iota
	bearer               // the bootstrap client's full-scope Management token
	visitor              // a browser holding the hosted pages' CSRF cookie
	administrator        // a browser signed in to the dashboard
)

// probe is one request of the pass.
type probe struct {
	method string
	target string // path and query exactly as sent on the wire
	who    caller
	ctype  string
	body   []byte
	// auth replaces the Authorization header the caller would send.
	auth string
	// raw, when set, is a chunked body, written to a TCP connection as is;
	// when it breaks off, the connection is half-closed after it, so that
	// the server reads the end of the stream.
	raw    string
	breaks bool
	// wire marks a request the HTTP layer refuses before any route sees
	// it: its answer is the standard library's, not an endpoint's shape.
	wire bool
	// pad, when not 0, is how many bytes of "a" the body holds after
	// body and before padEnd: a body far past every bound, made as it is
	// sent. The answer may then be a closed connection (the server stops
	// reading what it refuses).
	pad    int
	padEnd []byte
	// headers are set after the caller's, replacing any of the same name.
	headers [][2]string
	// last runs after every other probe, alone: it ends a session or
	// deletes a fixture the other probes use.
	last bool
}

func (p probe) String() string {
	s := p.method + " " + clip(p.target, 160)
	if p.raw != "" {
		s += fmt.Sprintf(" chunked %.100q", p.raw)
	}
	if p.ctype != "" {
		s += " [" + clip(p.ctype, 60) + "]"
	}
	if p.body != nil {
		s += fmt.Sprintf(" body %.120q", p.body)
	}
	if p.pad > 0 {
		s += fmt.Sprintf(" and %d bytes more", p.pad+len(p.padEnd))
	}
	if p.auth != "" {
		s += fmt.Sprintf(" auth %.60q", p.auth)
	}
	for _, h := range p.headers {
		s += fmt.Sprintf(" %s: %.60q", h[0], h[1])
	}
	return s + " as " + [...]string{"anonymous", "bearer", "visitor", "administrator"}[p.who]
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d bytes)", len(s))
}

// badSegments replace a path parameter; as sent on the wire. Every
// parameter gets the first coreSegments, and some of the others.
var badSegments = []string{
	"%FF%FE", "%00", "a%00b", "%C3%28", "%01%02%1F%7F", noise(3000), strings.Repeat("%FF", 1200), "..", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "%25",
	"%ED%A0%80", "%EF%BF%BE", "%E2%80%AE", strings.Repeat("a", 4096), "%2E%2E", "%2F", "%5C", "%22%27%3C%3E", "%20", "-1", "0",
	"99999999999999999999999999", "auth0%7C", "auth0%7C%FF%00", "null", "%7B%7D", "%27%20OR%201%3D1--", "%F0%9F%98%80",
}

const coreSegments = 10

// noise is n letters and digits that do not compress: a long value that
// PostgreSQL cannot squeeze under its bound on an index entry, as it does
// a run of one letter.
func noise(n int) string {
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// badHeaders are request headers some route reads, set to what no client
// should send, each set sent once to every route.
var badHeaders = [][][2]string{
	{{"Idempotency-Key", noise(5000)}, {"User-Agent", noise(9000)}, {"Accept", "\xff"}, {"X-Requested-With", "\xff\xfe"}},
	{{"Idempotency-Key", "\xff\xfe"}, {"User-Agent", "\xff"}, {"X-Forwarded-For", "\xff, 1.2.3.4, ::ffff:zz"}, {"Forwarded", "for=\"[::1]:x\";by=\xff"}},
	{{"Idempotency-Key", ""}, {"Accept", strings.Repeat("application/json,", 2000)}, {"X-Forwarded-For", strings.Repeat("10.0.0.1,", 3000)}},
	{{"Cookie", "usher_session=\xff\xfe; usher_csrf=" + noise(5000) + "; usher_dashboard=%00; usher_dashboard_login=" + noise(3000)}},
	{{"Cookie", "usher_session=; usher_session=a; usher_dashboard=\"\"; usher_csrf=%FF%FE; ;;=;"}},
}

// wireSegments are path parameters the HTTP layer itself refuses.
var wireSegments = []string{"%zz", "%", "%F"}

// badValues replace a query parameter or a form field; as sent on the
// wire. Every field gets the first coreValues, and some of the others.
var badValues = []string{
	"%FF%FE", "a%00b", "%01%1F%7F", noise(6000), "%zz",
	"%00", "%C3%28", "%ED%A0%80", "%E2%80%AE", "", "%", "%2", strings.Repeat("a", 70000), strings.Repeat("%FF", 3000), "a=b=c",
	"%26%3D", "+%20+", "..%2F..%2F", "%3Cscript%3E", "javascript%3Aalert(1)", "99999999999999999999", "-1", "1e999", "%7B%7D", "%5B%5D",
}

const coreValues = 5

// shortValues are the badValues short enough to send many in one query.
var shortValues = slices.DeleteFunc(slices.Clone(badValues), func(v string) bool { return len(v) > 100 })

// badQueries are whole query strings.
var badQueries = []string{
	"%FF=%FE", "q=%00", "q=%FF%FE", "page=%FF&per_page=%00", "page=-1&per_page=1000000", "page=99999999999999999999",
	"include_totals=%00&fields=%FF&include_fields=%FF", "sort=%FF%3A1", "from=%FF&take=%00", "take=-5",
	"q=" + strings.Repeat("a", 20000), "%zz=1", "a=%", "&&&=&=", ";;;", "q=app_metadata.%FF%3A%00",
	"q=email%3A%22%5Cx00%22", "q=%28%28%28%28%28", "q=user_id%3A*%FF*",
}

// queryNames are the query parameters some route reads.
var queryNames = []string{
	"q", "page", "per_page", "include_totals", "fields", "include_fields", "sort", "connection", "email", "from",
	"take", "triggerId", "actionName", "deployed", "installed", "force", "status", "to", "client_id", "audience",
	"ticket", "type", "returnTo", "state", "code", "error", "error_description", "next", "note", "redirect_uri",
	"response_type", "response_mode", "scope", "prompt", "nonce", "login_hint", "code_challenge",
	"code_challenge_method", "branch", "preview_user", "user",
}

// wrongJSON replace one property of a JSON body: wrong types, numbers
// nothing holds, text that is not text, sizes past every bound. Every
// property gets the first coreJSON, and some of the others.
var wrongJSON = []string{
	`"` + noise(6000) + `"`, "\"\xff\xfe\"", `"a\u0000b"`, `{"a":[1]}`, `1e999`,
	`-1e999`, `123456789012345678901234567890`, `-1`, `0.5`, `true`, `false`, `null`, `""`, `"x"`,
	`[]`, `{}`, `[1,"a",null,{}]`, `"\ud800"`, `"\u202e\u0007\u001f"`, `"` + strings.Repeat("a", 70000) + `"`,
	strings.Repeat("[", 200) + strings.Repeat("]", 200), `{"$gt":""}`, `"../../etc/passwd"`, `"{{ 7 | times: 7 }}{% raw %}"`,
	`[` + strings.Repeat(`"x",`, 5000) + `"x"]`,
}

const coreJSON = 5

// badJSON are whole bodies for a route that reads JSON; each is sent as
// the same bytes to every route.
var badJSON = asBytes(
	"", "{", "}", "[", "nul", `{"a":}`, `{"a" 1}`, "\xff\xfe", "{\"a\":\"\xff\xfe\"}", `{"a":"\u0000"}`,
	"{\"\xff\":1}", `"\ud800"`, "[]", "1", `"s"`, "null", "true", "1e999", "{} {}", "{}]", "\x00",
	"{}\x00", "\xef\xbb\xbf{}", strings.Repeat("[", 100000), strings.Repeat(`{"a":`, 20000),
	`{"`+strings.Repeat("k", 70000)+`":1}`, `{"a":`+strings.Repeat("9", 5000)+`}`,
	`{"a":1,"a":2,"a":{},"a":[]}`,
)

// badForms are whole bodies for a route that reads a form.
var badForms = asBytes(
	"%", "%zz=1", "a=%FF%00", "\xff\xfe=\x00", "&&&", "=", strings.Repeat("k", 70000)+"=1",
	strings.Repeat("a=1&", 20000), "a=1;b=2", `{"a":1}`, "_csrf=%FF&_csrf=%00",
)

// asBytes is bodies as byte slices, made once.
func asBytes(bodies ...string) [][]byte {
	out := make([][]byte, len(bodies))
	for i, b := range bodies {
		out[i] = []byte(b)
	}
	return out
}

// badTypes are the Content-Types sent with a body the route would accept.
var badTypes = []string{
	"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "multipart/form-data",
	"application/json; charset=utf-16", ";;;", "application/json; charset=\xff", "",
}

// jsonBody is what a route that reads JSON accepts: a body it takes and
// the type whose properties (or the property names) it reads.
type jsonBody struct {
	base  string
	props any // a struct value, whose json names are read, or a []string
}

// jsonBodies says, for every route that reads a JSON body, what it reads.
// Placeholders in base ({user}, {client}, ...) are the fixtures'; {n} is
// the probe's number, so that each probe that creates something creates
// a new one and reaches the database with it.
var jsonBodies = map[string]jsonBody{
	"POST /api/v2/users": {`{"connection":"` + dbConn + `","email":"probe-{n}@example.com",` +
		`"app_metadata":{"plan":"gold","tags":["a"]},"user_metadata":{"a":{"b":1}}}`, identity.NewUser{}},
	"PATCH /api/v2/users/{id}":               {`{"name":"Probe","app_metadata":{"plan":"gold","tags":["a"]}}`, identity.UserPatch{}},
	"POST /api/v2/users/{id}/permissions":    {`{"permissions":[{"resource_server_identifier":"https://api.example.com","permission_name":"read:x"}]}`, []string{"permissions"}},
	"DELETE /api/v2/users/{id}/permissions":  {`{"permissions":[{"resource_server_identifier":"https://api.example.com","permission_name":"read:x"}]}`, []string{"permissions"}},
	"POST /api/v2/clients":                   {probeClient, identity.Client{}},
	"PATCH /api/v2/clients/{id}":             {probeClient, identity.Client{}},
	"POST /api/v2/client-grants":             {`{"client_id":"{client}","audience":"https://api.example.com","scope":["read:x"]}`, identity.NewClientGrant{}},
	"PATCH /api/v2/client-grants/{id}":       {`{"scope":["read:x"]}`, identity.ClientGrantPatch{}},
	"POST /api/v2/connections":               {`{"name":"probe-db-{n}","strategy":"auth0","options":` + probeOptions + `,"enabled_clients":["{client}"],"metadata":{"a":"b"}}`, identity.Connection{}},
	"PATCH /api/v2/connections/{id}":         {`{"display_name":"Probe","options":` + probeOptions + `}`, identity.Connection{}},
	"PATCH /api/v2/connections/{id}/clients": {`[{"client_id":"{client}","status":true}]`, identity.ClientStatus{}},
	"POST /api/v2/resource-servers":          {`{"name":"Probe","identifier":"https://probe-{n}.example.com"}`, []string{"name", "identifier"}},
	"PATCH /api/v2/resource-servers/{id}":    {`{"name":"Probe"}`, []string{"name"}},
	"PATCH /api/v2/tenants/settings": {`{"friendly_name":"Probe","session_lifetime":168,"flags":{"disable_clickjack_protection_headers":false},` +
		`"change_password":{"enabled":true,"html":"<p>x</p>"},"enabled_locales":["en"],"session_cookie":{"mode":"persistent"}}`, identity.TenantSettings{}},
	"POST /api/v2/jobs/verification-email":    {`{"user_id":"{user}"}`, identity.VerificationEmailRequest{}},
	"POST /api/v2/tickets/password-change":    {`{"user_id":"{user}"}`, identity.PasswordChangeTicketRequest{}},
	"POST /api/v2/tickets/email-verification": {`{"user_id":"{user}"}`, identity.EmailVerificationTicketRequest{}},
	"POST /api/v2/email-templates": {`{"template":"welcome_email","body":"<p>Hi</p>","from":"a@example.com","subject":"Hi","syntax":"liquid","enabled":true}`,
		mail.Template{}},
	"PUT /api/v2/email-templates/{name}": {`{"template":"reset_email","body":"<p>{{ url }}</p>","from":"a@example.com","subject":"Reset","syntax":"liquid","enabled":true}`,
		mail.Template{}},
	"PATCH /api/v2/email-templates/{name}": {`{"subject":"Reset"}`, mail.TemplatePatch{}},
	"POST /api/v2/emails/provider": {`{"name":"smtp","credentials":{"smtp_host":"127.0.0.1","smtp_port":1,"smtp_user":"u","smtp_pass":"p"}}`,
		mail.Provider{}},
	"PATCH /api/v2/emails/provider":                  {`{"enabled":false,"credentials":{"smtp_port":2},"settings":{"a":{"b":1}}}`, mail.Provider{}},
	"PUT /api/v2/branding/templates/universal-login": {`{"template":"<html>{%- auth0:head -%}{%- auth0:widget -%}</html>"}`, []string{"template"}},
	"PATCH /api/v2/branding": {`{"logo_url":"https://example.com/logo.png","font":{"url":"https://example.com/f.woff"},` +
		`"colors":{"primary":"#000000","page_background":{"type":"linear-gradient","start":"#000000","end":"#ffffff","angle_deg":35}}}`, pages.Branding{}},
	"PUT /api/v2/prompts/{prompt}/custom-text/{language}": {`{"reset-password":{"title":"Hello","description":"x"}}`, []string{"login", "reset-password", "usher-invite"}},
	"POST /api/v2/actions/actions": {`{"name":"probe {n}","supported_triggers":[{"id":"post-login","version":"v3"}],"code":"exports.onExecutePostLogin = async () => {};",` +
		`"runtime":"node18","secrets":[{"name":"KEY","value":"v"}],"dependencies":[{"name":"lodash","version":"4.17.21"}]}`, actions.ActionInput{}},
	"PATCH /api/v2/actions/actions/{id}": {`{"code":"exports.onExecutePostLogin = async () => {};","secrets":[{"name":"KEY","value":"v"}],` +
		`"supported_triggers":[{"id":"post-login","version":"v3"}]}`, actions.ActionPatch{}},
	"PATCH /api/v2/actions/triggers/{triggerId}/bindings": {`{"bindings":[{"ref":{"type":"action_id","value":"{action}"},"display_name":"probe","secrets":[{"name":"KEY","value":"v"}]}]}`,
		actions.BindingsUpdate{}},
	"POST /usher/v1/invitations": {`{"email":"probe-invite-{n}@example.com","send_invitation_email":false,"inviter":{"name":"Ada"},"app_metadata":{"plan":"gold"}}`,
		identity.InvitationRequest{}},
	"POST /dbconnections/signup":          {`{"client_id":"{app}","email":"probe-signup@example.com","password":"Str0ng-Passw0rd!","connection":"` + dbConn + `"}`, identity.SignupRequest{}},
	"POST /dbconnections/change_password": {`{"client_id":"{app}","email":"probe@example.com","connection":"` + dbConn + `"}`, identity.PasswordChangeRequest{}},
}

// probeClient and probeOptions are a client and a connection's options with
// a property of each kind the Management API keeps.
const (
	probeClient = `{"name":"Probe app","app_type":"regular_web","callbacks":["https://a.example/cb"],"allowed_logout_urls":["https://a.example/"],` +
		`"grant_types":["authorization_code"],"jwt_configuration":{"alg":"RS256","lifetime_in_seconds":36000},"client_metadata":{"a":"b"},` +
		`"token_endpoint_auth_method":"client_secret_post"}`
	probeOptions = `{"passwordPolicy":"good","password_complexity_options":{"min_length":8},"disable_signup":false,"brute_force_protection":true,` +
		`"validation":{"username":{"min":1,"max":15}},"password_history":{"enable":false,"size":5}}`
)

// formBody is what a route that reads a form accepts: a form it takes (its
// values as on the wire, placeholders filled from the fixtures) and the
// fields it reads. Each is sent with the caller's CSRF token.
type formBody struct {
	base   string
	fields []string
}

// formBodies says, for every route that reads a form, what it reads.
var formBodies = map[string]formBody{
	"POST /oauth/token": {"grant_type=client_credentials&client_id={app}&client_secret={appSecret}&audience={audience}",
		[]string{"grant_type", "client_id", "client_secret", "audience", "scope", "username", "password", "realm", "code", "code_verifier", "redirect_uri", "refresh_token"}},
	"POST /lo/reset":                              {"ticket={ticket}&newPassword=x&confirmNewPassword=y", []string{"ticket", "newPassword", "confirmNewPassword", "experience"}},
	"POST /lo/request":                            {"ticket={ticket}&email=probe%40example.com", []string{"ticket", "email"}},
	"POST /u/email-verification":                  {"ticket={verifyTicket}", []string{"ticket"}},
	"POST /u/login":                               {"q={q}&username=probe%40example.com&password=wrong", []string{"q", "username", "password"}},
	"POST /u/signup":                              {"q={q}&email=probe-hosted%40example.com&password=x", []string{"q", "email", "password"}},
	"POST /u/reset-password/request/{connection}": {"q={q}&email=probe%40example.com", []string{"q", "email", "login_hint"}},

	"POST /dashboard/users/{id}/metadata":           {"app_metadata=%7B%7D&user_metadata=%7B%7D", []string{"app_metadata", "user_metadata"}},
	"POST /dashboard/users/{id}/block":              {"", nil},
	"POST /dashboard/users/{id}/unblock":            {"", nil},
	"POST /dashboard/users/{id}/delete":             {"", nil},
	"POST /dashboard/users/{id}/admin":              {"", nil},
	"POST /dashboard/users/{id}/unadmin":            {"", nil},
	"POST /dashboard/users/{id}/password-mail":      {"", []string{"branch"}},
	"POST /dashboard/invitations":                   {"emails=probe-dash-{n}%40example.com", []string{"emails", "admin", "result_url"}},
	"POST /dashboard/invitations/{id}/resend":       {"", nil},
	"POST /dashboard/invitations/{id}/revoke":       {"", nil},
	"POST /dashboard/mail/provider":                 {"host=127.0.0.1&port=1&user=u&password=p&from=a%40example.com", []string{"host", "port", "user", "password", "from", "enabled"}},
	"POST /dashboard/mail/provider/delete":          {"", nil},
	"POST /dashboard/mail/test":                     {"to=probe%40example.com", []string{"to"}},
	"POST /dashboard/mail/templates/{name}":         {"body=%3Cp%3E%7B%7B+url+%7D%7D%3C%2Fp%3E&subject=Reset&from=a%40example.com", []string{"body", "subject", "from", "result_url", "lifetime", "include_email", "enabled", "preview_user"}},
	"POST /dashboard/mail/templates/{name}/preview": {"body=%3Cp%3EHi%3C%2Fp%3E&subject=Hi", []string{"body", "subject", "from", "branch", "preview_user"}},
	"POST /dashboard/mail/outbox/{id}/retry":        {"", nil},
	"POST /dashboard/actions":                       {"name=probe-{n}&trigger=post-login&code=exports.onExecutePostLogin+%3D+async+()+%3D%3E+%7B%7D%3B", []string{"name", "code", "trigger"}},
	"POST /dashboard/actions/templates":             {"template=clear-invitation-flag", []string{"template"}},
	"POST /dashboard/actions/{id}":                  {"code=exports.onExecutePostLogin+%3D+async+()+%3D%3E+%7B%7D%3B", []string{"code", "deploy"}},
	"POST /dashboard/actions/{id}/deploy":           {"", nil},
	"POST /dashboard/flows/{trigger}":               {"op=add&action={action}", []string{"op", "action", "i"}},
	"POST /dashboard/applications":                  {"name=Probe&app_type=regular_web&callbacks=https%3A%2F%2Fa.example%2Fcb", []string{"name", "app_type", "callbacks"}},
	"POST /dashboard/applications/{id}/callbacks":   {"callbacks=https%3A%2F%2Fa.example%2Fcb", []string{"callbacks"}},
	"POST /dashboard/connection/{id}":               {"policy=good&min_length=8", []string{"disable_signup", "policy", "min_length"}},
	"POST /dashboard/signout":                       {"", nil},
}

// multipartBodies says, for every route that reads a multipart upload, the
// parts besides the file (named by the map's value).
var multipartBodies = map[string]struct {
	file   string
	fields map[string]string
}{
	"POST /api/v2/jobs/users-imports": {"users", map[string]string{"connection_id": "{connection}", "upsert": "false", "send_completion_email": "false",
		"external_id": "x", "invite": "false", "dry_run": "true", "skip_existing": "false", "format": "json", "result_url": "https://a.example/", "ttl_sec": "60"}},
	"POST /dashboard/import": {"users", map[string]string{"connection_id": "{connection}", "upsert": "", "invite": ""}},
}

// featureWrites are the writes of what Usher answers only as Auth0 does
// for a feature it lacks or fixes (internal/features and the empty
// collections in routes.go): they take any JSON object, such as
// featureBody, and change nothing unless it repeats what is there.
var featureWrites = []string{
	"PATCH /api/v2/actions/modules/{id}",
	"PATCH /api/v2/attack-protection/bot-detection",
	"PATCH /api/v2/attack-protection/breached-password-detection",
	"PATCH /api/v2/attack-protection/brute-force-protection",
	"PATCH /api/v2/attack-protection/captcha",
	"PATCH /api/v2/attack-protection/suspicious-ip-throttling",
	"PATCH /api/v2/branding/phone/providers/{id}",
	"PATCH /api/v2/branding/phone/templates/{id}",
	"PATCH /api/v2/branding/themes/{themeId}",
	"PATCH /api/v2/connection-profiles/{id}",
	"PATCH /api/v2/custom-domains/default",
	"PATCH /api/v2/custom-domains/{id}",
	"PATCH /api/v2/event-streams/{id}",
	"PATCH /api/v2/flows/vault/connections/{id}",
	"PATCH /api/v2/flows/{id}",
	"PATCH /api/v2/forms/{id}",
	"PATCH /api/v2/guardian/factors/push-notification/providers/apns",
	"PATCH /api/v2/guardian/factors/push-notification/providers/fcm",
	"PATCH /api/v2/guardian/factors/push-notification/providers/fcmv1",
	"PATCH /api/v2/guardian/factors/push-notification/providers/sns",
	"PATCH /api/v2/hooks/{id}",
	"PATCH /api/v2/hooks/{id}/secrets",
	"PATCH /api/v2/log-streams/{id}",
	"PATCH /api/v2/network-acls/{id}",
	"PATCH /api/v2/organizations/{id}",
	"PATCH /api/v2/prompts",
	"PATCH /api/v2/prompts/{prompt}/screen/{screen}/rendering",
	"PATCH /api/v2/rate-limit-policies/{id}",
	"PATCH /api/v2/risk-assessments/settings",
	"PATCH /api/v2/risk-assessments/settings/new-device",
	"PATCH /api/v2/roles/{id}",
	"PATCH /api/v2/rules/{id}",
	"PATCH /api/v2/self-service-profiles/{id}",
	"PATCH /api/v2/supplemental-signals",
	"PATCH /api/v2/token-exchange-profiles/{id}",
	"PATCH /api/v2/user-attribute-profiles/{id}",
	"POST /api/v2/actions/modules",
	"POST /api/v2/branding/phone/providers",
	"POST /api/v2/branding/phone/templates",
	"POST /api/v2/branding/themes",
	"POST /api/v2/connection-profiles",
	"POST /api/v2/custom-domains",
	"POST /api/v2/event-streams",
	"POST /api/v2/flows",
	"POST /api/v2/flows/vault/connections",
	"POST /api/v2/forms",
	"POST /api/v2/hooks",
	"POST /api/v2/hooks/{id}/secrets",
	"POST /api/v2/log-streams",
	"POST /api/v2/network-acls",
	"POST /api/v2/organizations",
	"POST /api/v2/rate-limit-policies",
	"POST /api/v2/roles",
	"POST /api/v2/roles/{id}/permissions",
	"POST /api/v2/rules",
	"POST /api/v2/self-service-profiles",
	"POST /api/v2/token-exchange-profiles",
	"POST /api/v2/user-attribute-profiles",
	"PUT /api/v2/guardian/factors/phone/message-types",
	"PUT /api/v2/guardian/factors/phone/providers/twilio",
	"PUT /api/v2/guardian/factors/phone/selected-provider",
	"PUT /api/v2/guardian/factors/phone/templates",
	"PUT /api/v2/guardian/factors/push-notification/providers/apns",
	"PUT /api/v2/guardian/factors/push-notification/providers/fcm",
	"PUT /api/v2/guardian/factors/push-notification/providers/fcmv1",
	"PUT /api/v2/guardian/factors/push-notification/providers/sns",
	"PUT /api/v2/guardian/factors/push-notification/selected-provider",
	"PUT /api/v2/guardian/factors/sms/providers/twilio",
	"PUT /api/v2/guardian/factors/sms/selected-provider",
	"PUT /api/v2/guardian/factors/sms/templates",
	"PUT /api/v2/guardian/factors/{name}",
	"PUT /api/v2/guardian/policies",
	"PUT /api/v2/network-acls/{id}",
	"PUT /api/v2/prompts/{prompt}/partials",
	"PUT /api/v2/rules-configs/{key}",
}

var featureBody = jsonBody{`{"enabled":false,"name":"probe-{n}"}`, []string{"enabled", "name"}}

// noBody are the writes that read no body.
var noBody = []string{
	"POST /api/v2/clients/{id}/rotate-secret", "POST /api/v2/keys/signing/rotate", "PUT /api/v2/keys/signing/{kid}/revoke",
	"POST /api/v2/actions/actions/{id}/deploy", "POST /usher/v1/invitations/{id}/resend", "POST /usher/v1/invitations/{id}/revoke",
	"POST /usher/v1/outbox/{id}/retry",
}

// realParams are, by the path segment before it, a real value for each
// path parameter (the fixtures' names in braces).
var realParams = map[string]string{
	"users/{id}": "{user}", "user-blocks/{id}": "{user}", "clients/{id}": "{client}", "client-grants/{id}": "{grant}",
	"connections/{id}": "{connection}", "connection/{id}": "{connection}", "jobs/{id}": "{job}", "import/{id}": "{job}",
	"email-templates/{name}": "reset_email", "templates/{name}": "reset_email", "prompts/{prompt}": "reset-password",
	"custom-text/{language}": "en", "signing/{kid}": "{kid}", "actions/{id}": "{action}", "versions/{versionId}": "{version}",
	"triggers/{triggerId}": "post-login", "flows/{trigger}": "post-login", "invitations/{id}": "{invitation}",
	"outbox/{id}": "{mail}", "applications/{id}": "{client}", "request/{connection}": dbConn,
	"resource-servers/{id}": "{client}", "screen/{screen}": "login-id", "factors/{name}": "otp", "themes/{themeId}": "default", "rules-configs/{key}": "KEY",
	// What Usher does not have: no id is real.
	"modules/{id}": "probe", "providers/{id}": "probe", "templates/{id}": "probe", "connection-profiles/{id}": "probe",
	"custom-domains/{id}": "probe", "event-streams/{id}": "probe", "flows/{id}": "probe", "forms/{id}": "probe", "hooks/{id}": "probe",
	"log-streams/{id}": "probe", "network-acls/{id}": "probe", "organizations/{id}": "probe", "rate-limit-policies/{id}": "probe",
	"roles/{id}": "probe", "rules/{id}": "probe", "self-service-profiles/{id}": "probe", "token-exchange-profiles/{id}": "probe",
	"user-attribute-profiles/{id}": "probe",
}

// baseQueries are, for a route that needs one to get past its first check,
// a query it takes.
var baseQueries = map[string]string{
	"GET /authorize":                               "{authorize}",
	"GET /lo/reset":                                "ticket={ticket}",
	"GET /u/reset-verify":                          "ticket={ticket}",
	"GET /u/email-verification":                    "ticket={verifyTicket}",
	"GET /v2/logout":                               "client_id={app}&returnTo=https%3A%2F%2Fapp.example.com%2F",
	"GET /u/signup":                                "{authorize}",
	"GET /api/v2/users-by-email":                   "email=probe%40example.com",
	"GET /dashboard/callback":                      "code=x&state=y",
	"GET /api/v2/users":                            "q=email%3Aprobe%40example.com&page=0&per_page=5&include_totals=true",
	"GET /dashboard/mail/templates/{name}/preview": "preview_user={user}&branch=reset",
}

// fixtures are the real things the probes aim at, by placeholder name.
type fixtures map[string]string

func (f fixtures) fill(s string) string {
	for k, v := range f {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// jsonNamesOf lists the JSON property names of a struct value, or the
// names given.
func jsonNamesOf(props any) []string {
	if names, ok := props.([]string); ok {
		return names
	}
	t := reflect.TypeOf(props)
	var names []string
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && t.Field(i).IsExported() {
			names = append(names, name)
		}
	}
	return names
}

// withProp returns the JSON object base with name set to the JSON text v
// (appended, so a property base has is sent twice: a duplicate key).
func withProp(base, name, v string) []byte {
	key, _ := json.Marshal(name)
	body := strings.TrimSuffix(strings.TrimSpace(base), "}")
	if strings.TrimSpace(body) != "{" {
		body += ","
	}
	return []byte(body + string(key) + ":" + v + "}")
}

// nestedBodies returns the JSON object base with each value inside its
// properties (objects and arrays, and what they hold) replaced in turn by a
// few of wrongJSON, and each object inside given a property it lacks.
func nestedBodies(rng *rand.Rand, base string) [][]byte {
	parse := func() any {
		dec := json.NewDecoder(strings.NewReader(base))
		dec.UseNumber()
		var v any
		dec.Decode(&v)
		return v
	}
	// set returns a fresh copy of base with the value at path replaced.
	set := func(path []any, v json.RawMessage) []byte {
		root := parse()
		node := root
		for i, step := range path {
			last := i == len(path)-1
			switch n := node.(type) {
			case map[string]any:
				if last {
					n[step.(string)] = v
				}
				node = n[step.(string)]
			case []any:
				if last {
					n[step.(int)] = v
				}
				node = n[step.(int)]
			}
		}
		out, err := json.Marshal(root)
		if err != nil {
			panic(err)
		}
		return out
	}
	var out [][]byte
	var walk func(v any, path []any)
	walk = func(v any, path []any) {
		if len(path) >= 2 {
			for _, w := range someOf(rng, wrongJSON, coreJSON, 1) {
				out = append(out, set(path, json.RawMessage(w)))
			}
		}
		switch n := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(n))
			for k := range n {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if len(path) >= 1 {
				out = append(out, set(append(slices.Clone(path), "no_such_property"), json.RawMessage(`1`)))
			}
			for _, k := range keys {
				walk(n[k], append(slices.Clone(path), k))
			}
		case []any:
			for i := range n {
				walk(n[i], append(slices.Clone(path), i))
			}
		}
	}
	walk(parse(), nil)
	return out
}

// withField returns the form base with field set to the wire value v.
func withField(base, field, v string) string {
	var kept []string
	for _, kv := range strings.Split(base, "&") {
		if kv != "" && !strings.HasPrefix(kv, field+"=") {
			kept = append(kept, kv)
		}
	}
	return strings.Join(append(kept, url.QueryEscape(field)+"="+v), "&")
}

// someOf returns the first core values of list, which every use gets, and
// n of the others, chosen by rng.
func someOf(rng *rand.Rand, list []string, core, n int) []string {
	return append(slices.Clone(list[:core]), pick(rng, list[core:], n)...)
}

// pick returns n of list, chosen by rng.
func pick(rng *rand.Rand, list []string, n int) []string {
	idx := rng.Perm(len(list))
	out := make([]string, 0, n)
	for _, i := range idx[:min(n, len(idx))] {
		out = append(out, list[i])
	}
	return out
}

var paramPattern = regexp.MustCompile(`\{[^}]*\}`)

// realPath fills each parameter of a route's path with its real value,
// except the one at skip (-1: none), which gets seg.
func realPath(t *testing.T, path string, fx fixtures, skip int, seg string) string {
	t.Helper()
	i := -1
	return paramPattern.ReplaceAllStringFunc(path, func(p string) string {
		i++
		if p == "{$}" {
			return ""
		}
		if i == skip {
			return seg
		}
		before := strings.TrimSuffix(path[:strings.Index(path, p)], "/")
		key := before[strings.LastIndex(before, "/")+1:] + "/" + p
		v, ok := realParams[key]
		if !ok {
			t.Errorf("no real value for %s in %s: add one to realParams", p, path)
			return "x"
		}
		return url.PathEscape(fx.fill(v))
	})
}

// malformedProbes builds the pass: the same list for the same fixtures.
func malformedProbes(t *testing.T, fx fixtures) []probe {
	t.Helper()
	rng := rand.New(rand.NewPCG(20261205, 1))
	var routes []string
	for _, r := range api.Routes() {
		if r == "/dashboard/" {
			routes = append(routes, dashboard.New(dashboard.Options{}).Routes()...)
			continue
		}
		routes = append(routes, r)
	}
	if len(routes) < 140 {
		t.Fatalf("only %d routes", len(routes))
	}
	noBodies := map[string]bool{}
	for _, r := range noBody {
		noBodies[r] = true
	}
	var out []probe
	for _, pattern := range routes {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method = "GET"
			path = pattern
		}
		who := anonymous
		switch {
		case strings.HasPrefix(path, "/api/v2/") || strings.HasPrefix(path, "/usher/v1/"):
			who = bearer
		case strings.HasPrefix(path, "/dashboard/"):
			who = administrator
		case method == "POST":
			who = visitor
		}
		jb, isJSON := jsonBodies[pattern]
		if !isJSON && slices.Contains(featureWrites, pattern) {
			jb, isJSON = featureBody, true
		}
		fb, isForm := formBodies[pattern]
		mb, isMultipart := multipartBodies[pattern]
		if (method == "POST" || method == "PUT" || method == "PATCH") && !isJSON && !isForm && !isMultipart && !noBodies[pattern] {
			t.Errorf("%s: say what its body holds (jsonBodies, formBodies, multipartBodies or noBody)", pattern)
			continue
		}
		// A request that undoes a fixture waits for the end.
		last := method == "DELETE" || strings.HasSuffix(path, "/delete") || strings.HasSuffix(path, "/signout") ||
			strings.HasSuffix(path, "/revoke") || pattern == "POST /dashboard/users/{id}/unadmin"
		// Prefix routes ("/u/assets/") get something after the prefix.
		if strings.HasSuffix(path, "/") && !strings.HasSuffix(path, "{$}") && path != "/" {
			path += "{rest}"
		}
		params := len(paramPattern.FindAllString(strings.ReplaceAll(path, "{$}", ""), -1))
		good := func() string {
			if strings.Contains(path, "{rest}") {
				return strings.Replace(path, "{rest}", "x", 1)
			}
			return realPath(t, path, fx, -1, "")
		}
		baseQuery := fx.fill(baseQueries[pattern])
		withQuery := func(p, q string) string {
			if q == "" {
				return p
			}
			return p + "?" + q
		}
		goodBody := func() (string, []byte) {
			switch {
			case isJSON:
				return "application/json", []byte(fx.fill(jb.base))
			case isForm:
				return "application/x-www-form-urlencoded", []byte(fx.fill(fb.base))
			}
			return "", nil
		}
		add := func(p probe) {
			if p.method == "" {
				p.method = method
			}
			p.last = p.last || (last && p.who != anonymous)
			out = append(out, p)
		}

		// Path parameters: each in turn, the others real.
		for i := 0; i < params; i++ {
			for _, seg := range someOf(rng, badSegments, coreSegments, 4) {
				ct, body := goodBody()
				var target string
				if strings.Contains(path, "{rest}") {
					target = strings.Replace(path, "{rest}", seg, 1)
				} else {
					target = realPath(t, path, fx, i, seg)
				}
				add(probe{target: withQuery(target, baseQuery), who: who, ctype: ct, body: body})
			}
			for _, seg := range wireSegments {
				add(probe{target: realPath(t, strings.ReplaceAll(path, "{rest}", "{x}"), fx, i, seg), who: who, wire: true})
			}
		}
		// A path of 70 KB, past the bound on request headers.
		add(probe{target: good() + "/" + strings.Repeat("a", 70000), who: who, wire: true})

		// Queries: whole strings, every name with a bad value, one of the
		// base query's parameters at a time.
		for _, q := range pick(rng, badQueries, 4) {
			ct, body := goodBody()
			add(probe{target: withQuery(good(), q), who: who, ctype: ct, body: body})
		}
		var every []string
		for _, name := range queryNames {
			every = append(every, name+"="+shortValues[rng.IntN(len(shortValues))])
		}
		add(probe{target: withQuery(good(), strings.Join(every, "&")), who: who})
		if baseQuery != "" {
			for _, kv := range strings.Split(baseQuery, "&") {
				name, _, _ := strings.Cut(kv, "=")
				for _, v := range someOf(rng, badValues, coreValues, 2) {
					add(probe{target: withQuery(good(), withField(baseQuery, name, v)), who: who})
				}
			}
		}

		// Headers some route reads, broken.
		for _, hs := range badHeaders {
			ct, body := goodBody()
			add(probe{target: withQuery(good(), baseQuery), who: who, ctype: ct, body: body, headers: hs})
		}

		// Who is asking: nobody, and a bearer that is not one.
		if who != anonymous {
			add(probe{target: withQuery(good(), baseQuery), who: anonymous})
			add(probe{target: withQuery(realPath(t, strings.ReplaceAll(path, "{rest}", "{x}"), fx, 0, "%FF"), baseQuery), who: anonymous})
		}
		for _, auth := range pick(rng, []string{"Bearer \xff\xfe", "Bearer a.b.c", "Bearer " + strings.Repeat("A", 8000), "Basic %FF",
			"Bearer " + strings.Repeat("e", 30) + ".." + strings.Repeat("x", 10), "bearer", "Bearer  \t ", "Basic Og==", "Basic " + "/w==" + ":"}, 2) {
			add(probe{target: withQuery(good(), baseQuery), who: who, auth: auth})
		}

		// Bodies.
		switch {
		case isJSON:
			base := fx.fill(jb.base)
			for _, b := range badJSON {
				add(probe{target: good(), who: who, ctype: "application/json", body: b})
			}
			for _, name := range jsonNamesOf(jb.props) {
				for _, v := range someOf(rng, wrongJSON, coreJSON, 2) {
					add(probe{target: good(), who: who, ctype: "application/json", body: withProp(base, name, v)})
				}
			}
			for _, body := range nestedBodies(rng, base) {
				add(probe{target: good(), who: who, ctype: "application/json", body: body})
			}
			add(probe{target: good(), who: who, ctype: "application/json", body: withProp(base, "no_such_property", `1`)})
			for _, ct := range badTypes {
				add(probe{target: good(), who: who, ctype: ct, body: []byte(base)})
			}
			open := withProp(base, "pad", `"`)
			add(probe{target: good(), who: who, ctype: "application/json", body: open[:len(open)-1], pad: 2 << 20, padEnd: []byte(`"}`)})
		case isForm:
			base := fx.fill(fb.base)
			for _, b := range badForms {
				add(probe{target: good(), who: who, ctype: "application/x-www-form-urlencoded", body: b})
			}
			for _, name := range append(slices.Clone(fb.fields), "_csrf") {
				for _, v := range someOf(rng, badValues, coreValues, 2) {
					add(probe{target: good(), who: who, ctype: "application/x-www-form-urlencoded", body: []byte(withField(base, name, v))})
				}
			}
			for _, ct := range badTypes {
				add(probe{target: good(), who: who, ctype: ct, body: []byte(base)})
			}
			add(probe{target: good(), who: who, ctype: "application/json", body: []byte(`{"_csrf":1}`)})
			add(probe{target: good(), who: who, ctype: "application/x-www-form-urlencoded", body: []byte(withField(base, "pad", "")), pad: 11 << 20})
		case isMultipart:
			for _, mp := range multipartProbes(rng, fx, mb.file, mb.fields, who == administrator) {
				mp.target, mp.who = good(), who
				add(mp)
			}
		}
		if method != "GET" {
			// Chunked bodies that break off, or whose sizes are not numbers.
			ct, _ := goodBody()
			for _, chunks := range []string{"10\r\n{\"email\":\"a@b\"\r\nzz\r\n", "zz\r\n{}\r\n0\r\n\r\n", "ffffffffffffffffffff\r\n{}\r\n",
				"2;" + strings.Repeat("x", 9000) + "\r\n{}\r\n0\r\n\r\n", "2\r\n{}\r\n0\r\nX-Trailer: \xff\r\n\r\n", "-1\r\n\r\n"} {
				add(probe{target: good(), who: who, ctype: ct, raw: chunks})
			}
			add(probe{target: good(), who: who, ctype: ct, raw: "10\r\n{\"a\":\"b\"\r\n", breaks: true})
		}
	}
	return out
}

// multipartProbes are uploads broken in each way a multipart body can be.
// The dashboard's form carries its CSRF token as its first part.
func multipartProbes(rng *rand.Rand, fx fixtures, file string, fields map[string]string, csrf bool) []probe {
	build := func(parts [][3]string, boundary string, cut int) probe {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.SetBoundary(boundary)
		for _, p := range parts {
			if p[2] != "" {
				fw, _ := mw.CreateFormFile(p[0], p[2])
				fw.Write([]byte(p[1]))
			} else {
				mw.WriteField(p[0], p[1])
			}
		}
		mw.Close()
		body := b.Bytes()
		if cut > 0 && cut < len(body) {
			body = body[:len(body)-cut]
		}
		return probe{ctype: mw.FormDataContentType(), body: body}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	base := func() [][3]string {
		var parts [][3]string
		if csrf {
			parts = append(parts, [3]string{"_csrf", "{csrf}", ""})
		}
		for _, k := range names {
			parts = append(parts, [3]string{k, fx.fill(fields[k]), ""})
		}
		return append(parts, [3]string{file, `[{"email":"probe-import@example.com"}]`, "users.json"})
	}
	var out []probe
	for _, content := range []string{"", "[", "\xff\xfe\x00", `[{"email":"a\u0000b@example.com"}]`, "[{\"email\":\"\xff@example.com\"}]",
		strings.Repeat("[", 100000), `[{"email":1,"app_metadata":"x","user_id":{},"password_hash":"$2b$99$x"}]`,
		"email\n\xff,\x00\n", `{"not":"a list"}`, `[` + strings.Repeat(`{},`, 2000) + `{}]`} {
		parts := base()
		parts[len(parts)-1][1] = content
		out = append(out, build(parts, "probe-boundary", 0))
	}
	for _, k := range names {
		for _, v := range pick(rng, []string{"\xff\xfe", "\x00", "a\x00b", "-1", "99999999999999999999", strings.Repeat("a", 10000), "", "true\x00"}, 3) {
			parts := base()
			for i := range parts {
				if parts[i][0] == k {
					parts[i][1] = v
				}
			}
			out = append(out, build(parts, "probe-boundary", 0))
		}
	}
	out = append(out,
		build(base(), "probe-boundary", 20),  // cut before the end
		build(base(), "probe-boundary", 200), // cut in the file
		build(append(base(), [3]string{"\xff\x00", "x", ""}), "probe-boundary", 0),
		build(append(base(), [3]string{file, "[]", "second.json"}), "probe-boundary", 0),
		probe{ctype: "multipart/form-data; boundary=", body: []byte("--\r\n\r\n")},
		probe{ctype: "multipart/form-data; boundary=\"" + strings.Repeat("b", 100) + "\"", body: []byte("garbage")},
		probe{ctype: "multipart/form-data; boundary=x", body: []byte("--x\r\nContent-Disposition: form-data; name=\"users\"; filename=\"\xff\"\r\n\r\n[]\r\n--x--\r\n")},
		probe{ctype: "multipart/form-data; boundary=x", body: []byte("--x\r\nContent-Disposition: \xff\r\n\r\n[]\r\n--x--\r\n")},
		probe{ctype: "multipart/form-data; boundary=x", body: []byte("--x\r\nX-H: "), pad: 1 << 20, padEnd: []byte("\r\n\r\n\r\n--x--\r\n")},
		probe{ctype: "application/json", body: []byte(`[{"email":"a@example.com"}]`)},
	)
	return out
}

// malformedServer is a server with fixtures and the callers the probes use.
type malformedServer struct {
	*testServer
	fx      fixtures
	token   string
	cookies map[caller]string // the Cookie header of each browser caller
	csrf    map[caller]string
	client  *http.Client
}

// newMalformedServer starts a server behind a trusted proxy (so that each
// probe can come from its own address, past the per-address limits) and
// makes one of everything a path can name.
func newMalformedServer(t *testing.T, dsn string) *malformedServer {
	t.Helper()
	s := startServer(t, dsn, map[string]string{"USHER_TRUSTED_PROXIES": "127.0.0.1/32"})
	tok := s.token(t)
	fx := fixtures{"audience": url.QueryEscape(s.URL + "/api/v2/"), "connection": s.connectionID(t, tok)}
	must := func(method, path string, body any, want int, out any) {
		t.Helper()
		if st := s.call(t, method, path, tok, body, out); st != want {
			t.Fatalf("fixture %s %s: %d, want %d", method, path, st, want)
		}
	}
	var u user
	must("POST", "/api/v2/users", map[string]any{"connection": dbConn, "email": "fixture@example.com", "password": "Str0ng-Passw0rd!", "verify_email": false}, 201, &u)
	fx["user"] = u.UserID
	app := s.app(t, tok, nil)
	fx["app"], fx["appSecret"] = app.ClientID, url.QueryEscape(app.ClientSecret)
	var c client
	must("POST", "/api/v2/clients", map[string]any{"name": "fixture app", "app_type": "non_interactive"}, 201, &c)
	fx["client"] = c.ClientID
	var g struct{ ID string }
	must("POST", "/api/v2/client-grants", map[string]any{"client_id": c.ClientID, "audience": s.URL + "/api/v2/", "scope": []string{"read:users"}}, 201, &g)
	fx["grant"] = g.ID
	var a struct{ ID string }
	must("POST", "/api/v2/actions/actions", map[string]any{"name": "fixture", "supported_triggers": []map[string]string{{"id": "post-login", "version": "v3"}},
		"code": "exports.onExecutePostLogin = async () => {};"}, 201, &a)
	fx["action"] = a.ID
	var v struct{ ID string }
	must("POST", "/api/v2/actions/actions/"+a.ID+"/deploy", nil, 202, &v)
	fx["version"] = v.ID
	var inv invitation
	must("POST", "/usher/v1/invitations", map[string]any{"email": "fixture-invite@example.com"}, 201, &inv)
	fx["invitation"] = inv.ID
	var box struct{ Mails []struct{ ID string } }
	must("GET", "/usher/v1/outbox", nil, 200, &box)
	if len(box.Mails) == 0 {
		t.Fatal("fixture: no mail in the outbox")
	}
	fx["mail"] = box.Mails[0].ID
	var keys []struct{ Kid string }
	must("GET", "/api/v2/keys/signing", nil, 200, &keys)
	fx["kid"] = keys[0].Kid
	st, job, e := s.postImport(t, tok, usersFile(2, "fixture", nil), "users.json", map[string]string{"connection_id": fx["connection"]})
	if st != 202 {
		t.Fatalf("fixture import: %d %+v", st, e)
	}
	fx["job"] = job.ID
	for name, path := range map[string]string{"ticket": "/api/v2/tickets/password-change", "verifyTicket": "/api/v2/tickets/email-verification"} {
		var tk struct{ Ticket string }
		must("POST", path, map[string]any{"user_id": u.UserID}, 201, &tk)
		link, err := url.Parse(tk.Ticket)
		if err != nil {
			t.Fatal(err)
		}
		fx[name] = url.QueryEscape(link.Query().Get("ticket"))
	}
	authorize, _ := url.Parse(s.authorizeURL(app, ""))
	fx["authorize"] = authorize.RawQuery

	ms := &malformedServer{testServer: s, fx: fx, token: tok, cookies: map[caller]string{}, csrf: map[caller]string{}}
	// The hosted pages' visitor: the login page's CSRF cookie and form.
	br := browser(t)
	status, page := get(t, br, authorize.String())
	if status != 200 || csrfField.FindStringSubmatch(page) == nil || queryField.FindStringSubmatch(page) == nil {
		t.Fatalf("login page: %d\n%s", status, page)
	}
	fx["q"] = url.QueryEscape(html.UnescapeString(queryField.FindStringSubmatch(page)[1]))
	ms.csrf[visitor] = csrfField.FindStringSubmatch(page)[1]
	ms.cookies[visitor] = jarCookies(br, s.URL)
	// The dashboard's administrator.
	root := newAdmin(t, s, dsn, "root@example.com")
	ms.csrf[administrator] = root.csrf()
	ms.cookies[administrator] = jarCookies(root.c, s.URL)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	ms.client = &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(tr.CloseIdleConnections)
	return ms
}

// jarCookies is the Cookie header a browser sends to base.
func jarCookies(c *http.Client, base string) string {
	u, _ := url.Parse(base + "/")
	var parts []string
	for _, ck := range c.Jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// answer is what a probe got back.
type answer struct {
	status int
	ctype  string
	body   []byte
	err    error
}

// send sends one probe from its own client address.
func (ms *malformedServer) send(p probe, n int) answer {
	forwarded := fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
	body := bytes.ReplaceAll(p.body, []byte("{csrf}"), []byte(ms.csrf[p.who]))
	body = bytes.ReplaceAll(body, []byte("{n}"), []byte(strconv.Itoa(n)))
	if p.who == visitor || p.who == administrator {
		if p.ctype == "application/x-www-form-urlencoded" && !bytes.Contains(body, []byte("_csrf=")) {
			body = append([]byte("_csrf="+url.QueryEscape(ms.csrf[p.who])+"&"), body...)
		}
	}
	var headers []string
	switch {
	case p.auth != "":
		headers = append(headers, "Authorization: "+p.auth)
	case p.who == bearer:
		headers = append(headers, "Authorization: Bearer "+ms.token)
	}
	if c := ms.cookies[p.who]; c != "" {
		headers = append(headers, "Cookie: "+c)
	}
	headers = append(headers, "X-Forwarded-For: "+forwarded)
	if p.ctype != "" {
		headers = append(headers, "Content-Type: "+p.ctype)
	}
	for _, h := range p.headers {
		headers = append(headers, h[0]+": "+h[1])
	}
	if p.raw != "" || p.wire {
		return ms.sendRaw(p, headers)
	}
	host := strings.TrimPrefix(ms.URL, "http://")
	req := &http.Request{Method: p.method, URL: &url.URL{Scheme: "http", Host: host, Opaque: p.target}, Host: host, Header: http.Header{},
		ContentLength: int64(len(body) + p.pad + len(p.padEnd)),
		Body:          io.NopCloser(io.MultiReader(bytes.NewReader(body), io.LimitReader(padding{}, int64(p.pad)), bytes.NewReader(p.padEnd)))}
	if p.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := ms.client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: data}
}

// padding reads as an endless run of "a".
type padding struct{}

func (padding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// sendRaw writes the request to a connection of its own: a chunked body
// as given, or a request line the HTTP client would refuse to write.
func (ms *malformedServer) sendRaw(p probe, headers []string) answer {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(ms.URL, "http://"), 5*time.Second)
	if err != nil {
		return answer{err: err}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: usher.test\r\nConnection: close\r\n", p.method, p.target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if p.raw != "" {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n" + p.raw)
	} else {
		b.WriteString("Content-Length: 0\r\n\r\n")
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return answer{err: err}
	}
	if p.breaks {
		c.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: data}
}

// leaks are what an answer must never show: a stack, a database's words.
var leaks = regexp.MustCompile(`goroutine \d|panic:|runtime error|SQLSTATE|sql: |pgx|sqlite|ERROR: `)

// wrongAnswer says what is wrong with an answer, or "".
func wrongAnswer(p probe, a answer) string {
	if a.err != nil {
		if p.pad > 0 || p.raw != "" {
			return "" // the server stopped reading what it refused
		}
		return "no answer: " + a.err.Error()
	}
	if a.status >= 500 {
		return fmt.Sprintf("%d %.200q", a.status, a.body)
	}
	if a.status < 400 {
		return ""
	}
	if leaks.Match(a.body) {
		return fmt.Sprintf("%d shows its insides: %.200q", a.status, a.body)
	}
	if p.wire || (p.raw != "" && !strings.HasPrefix(a.ctype, "application/json")) || a.status == http.StatusRequestHeaderFieldsTooLarge {
		return "" // the HTTP layer's own answer
	}
	path, _, _ := strings.Cut(p.target, "?")
	switch {
	case strings.HasPrefix(path, "/api/v2/") || strings.HasPrefix(path, "/usher/v1/"):
		var e mgmtErr
		if json.Unmarshal(a.body, &e) != nil || e.StatusCode != a.status || e.Error != http.StatusText(a.status) || e.Message == "" {
			return fmt.Sprintf("%d is not a Management error: %.200q", a.status, a.body)
		}
	case path == "/oauth/token" || path == "/userinfo" || path == "/dbconnections/change_password" || path == "/dbconnections/signup":
		var e map[string]any
		if json.Unmarshal(a.body, &e) != nil {
			return fmt.Sprintf("%d is not JSON: %.200q", a.status, a.body)
		}
		_, oauthShape := e["error_description"].(string)
		_, dbShape := e["description"].(string)
		if _, ok := e["error"].(string); !(ok && oauthShape) && !(path == "/dbconnections/signup" && dbShape && e["code"] != nil) {
			return fmt.Sprintf("%d is not an Authentication API error: %.200q", a.status, a.body)
		}
	}
	return ""
}

// runProbes sends the probes from workers at once (those marked last, one
// at a time after the others) and returns what was wrong, by probe.
func (ms *malformedServer) runProbes(probes []probe, workers int) (wrong []string, statuses map[int]int) {
	var mu sync.Mutex
	statuses = map[int]int{}
	record := func(p probe, a answer) {
		mu.Lock()
		defer mu.Unlock()
		statuses[a.status]++
		if w := wrongAnswer(p, a); w != "" {
			wrong = append(wrong, p.String()+": "+w)
		}
	}
	var first, last []int
	for i, p := range probes {
		if p.last {
			last = append(last, i)
		} else {
			first = append(first, i)
		}
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				record(probes[i], ms.send(probes[i], i))
			}
		}()
	}
	for _, i := range first {
		next <- i
	}
	close(next)
	wg.Wait()
	// Revoking the signing key of the probes' token, then ending the
	// dashboard's session, come after every other request.
	rank := func(i int) int {
		switch path, _, _ := strings.Cut(probes[i].target, "?"); {
		case strings.HasSuffix(path, "/signout"):
			return 2
		case strings.HasSuffix(path, "/revoke") && strings.HasPrefix(path, "/api/v2/keys/"):
			return 1
		}
		return 0
	}
	sort.SliceStable(last, func(a, b int) bool { return rank(last[a]) < rank(last[b]) })
	for _, i := range last {
		record(probes[i], ms.send(probes[i], i))
	}
	sort.Strings(wrong)
	return wrong, statuses
}

// TestMalformedRequestsOnEveryRoute sends every route of the server
// (api.Routes, the dashboard's among them) ids, queries, bodies, content
// types and chunked encodings that are broken in every way we know, as
// the full-scope client, an administrator, a visitor and nobody: none may
// answer a 5xx, errors keep the endpoint's shape and show nothing of the
// server's insides, and the server goes on serving.
func TestMalformedRequestsOnEveryRoute(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		ms := newMalformedServer(t, dsn)
		probes := malformedProbes(t, ms.fx)
		if t.Failed() {
			return
		}
		start := time.Now()
		wrong, statuses := ms.runProbes(probes, 4)
		t.Logf("%d requests in %v; answers by status: %v", len(probes), time.Since(start).Round(time.Millisecond), statuses)
		if len(wrong) > 0 {
			t.Errorf("%d of %d malformed requests were answered wrongly:\n%s", len(wrong), len(probes), strings.Join(wrong, "\n"))
		}
		for status := range statuses {
			if status >= 500 {
				t.Errorf("%d answers of %d", statuses[status], status)
			}
		}
		if strings.Contains(ms.Stderr.String(), "panic serving request") {
			t.Errorf("the log shows a panic")
		}
		if t.Failed() {
			// What the server logged as errors says why.
			for _, line := range strings.Split(ms.Stderr.String(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					t.Logf("log: %.400s", line)
				}
			}
		}

		// The server still serves.
		fresh := ms.testServer.token(t)
		for _, path := range []string{"/api/v2/users", "/api/v2/connections", "/usher/v1/outbox"} {
			if st := ms.call(t, "GET", path, fresh, nil, nil); st != 200 {
				t.Errorf("GET %s after the pass: %d", path, st)
			}
		}
		if st := ms.call(t, "GET", "/readyz", "", nil, nil); st != 200 {
			t.Errorf("/readyz after the pass: %d", st)
		}
	})
}

// TestIndexedTextIsBounded: text a client chooses that the database keeps
// in an index (an Idempotency-Key, an action's name, a secret's name) is
// bounded and must be text; past the bound it is a 400 in the Management
// shape, where PostgreSQL would refuse the index entry with a 500.
func TestIndexedTextIsBounded(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		t.Parallel()
		s := startServer(t, dsn, nil)
		tok := s.token(t)
		invite := func(key string) (int, mgmtErr) {
			req, _ := http.NewRequest("POST", s.URL+"/usher/v1/invitations", strings.NewReader(`{"email":"keyed@example.com","send_invitation_email":false}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := s.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var e mgmtErr
			decodeBody(t, resp, &e)
			return resp.StatusCode, e
		}
		for _, key := range []string{noise(513), "\xff\xfe", "a\tb"} {
			if st, e := invite(key); st != 400 || e.ErrorCode != "invalid_idempotency_key" {
				t.Errorf("Idempotency-Key %.20q: %d %+v, want 400", key, st, e)
			}
		}
		// Usher's own commands make keys of an address and a prefix.
		if st, _ := invite("usher-invite:" + strings.Repeat("a", 64) + "@" + strings.Repeat("b", 180) + ".example"); st != 201 {
			t.Errorf("a key of 270 bytes: %d, want 201", st)
		}
		if st, _, e := s.postImportKeyed(t, tok, noise(600), usersFile(1, "keyed", nil), "users.json", map[string]string{"connection_id": s.connectionID(t, tok)}); st != 400 || e.ErrorCode != "invalid_idempotency_key" {
			t.Errorf("an import with a long Idempotency-Key: %d %+v, want 400", st, e)
		}

		code := "exports.onExecutePostLogin = async () => {};"
		trigger := []map[string]string{{"id": "post-login"}}
		s.wantErr(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": noise(256), "code": code, "supported_triggers": trigger}, 400, "invalid_body")
		s.wantErr(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": "secretive", "code": code, "supported_triggers": trigger,
			"secrets": []map[string]string{{"name": noise(256), "value": "x"}}}, 400, "invalid_body")
		var a struct{ ID string }
		if st := s.call(t, "POST", "/api/v2/actions/actions", tok, map[string]any{"name": noise(255), "code": code, "supported_triggers": trigger}, &a); st != 201 {
			t.Fatalf("a name of 255 characters: %d", st)
		}
		s.wantErr(t, "PATCH", "/api/v2/actions/actions/"+a.ID, tok, map[string]any{"name": noise(3000)}, 400, "invalid_body")
	})
}
