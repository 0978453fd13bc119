package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/usherid/usher/internal/errs"
	"github.com/usherid/usher/internal/features"
)

// ResourceServer is an API that access tokens are issued for, as Auth0's
// /api/v2/resource-servers shows it. Usher has one: its Management API.
type ResourceServer struct {
	ID                       string          `json:"id"`
	Name                     string          `json:"name"`
	Identifier               string          `json:"identifier"`
	IsSystem                 bool            `json:"is_system"`
	AllowOfflineAccess       bool            `json:"allow_offline_access"`
	SkipConsentForFirstParty bool            `json:"skip_consent_for_verifiable_first_party_clients"`
	TokenLifetime            int             `json:"token_lifetime"`
	TokenLifetimeForWeb      int             `json:"token_lifetime_for_web"`
	SigningAlg               string          `json:"signing_alg"`
	Scopes                   []ResourceScope `json:"scopes"`
}

// ResourceScope is a permission an API defines.
type ResourceScope struct {
	Value       string `json:"value"`
	Description string `json:"description"`
}

// ManagementAPIName is the Management API's name; Auth0's tools recognise the
// Management API by it and leave it alone.
const ManagementAPIName = "Auth0 Management API"

// managementTokenLifetime is how long a Management API token lives, in
// seconds (oauth.AccessTokenLifetime).
const managementTokenLifetime = 86400

var errNoResourceServer = errs.NotFound("inexistent_resource_server", "The resource server does not exist.")

// ManagementAPI returns the Management API as Auth0 lists it: a system API
// whose identifier is the Management audience and whose scopes are every
// Management scope.
func (s *Service) ManagementAPI() ResourceServer {
	scopes := make([]ResourceScope, len(managementScopes))
	for i, sc := range managementScopes {
		scopes[i] = ResourceScope{Value: sc, Description: scopeDescription(sc)}
	}
	return ResourceServer{ID: derivedID(s.mgmtAudience, "api", 12), Name: ManagementAPIName, Identifier: s.mgmtAudience,
		IsSystem: true, TokenLifetime: managementTokenLifetime, TokenLifetimeForWeb: 7200, SigningAlg: "RS256", Scopes: scopes}
}

// ResourceServers returns every API: the Management API.
func (s *Service) ResourceServers() []ResourceServer { return []ResourceServer{s.ManagementAPI()} }

// ResourceServer returns the API whose id, or identifier, is key.
func (s *Service) ResourceServer(key string) (ResourceServer, error) {
	api := s.ManagementAPI()
	if key == api.ID || s.CanonicalAudience(key) == api.Identifier {
		return api, nil
	}
	return ResourceServer{}, errNoResourceServer
}

// CreateResourceServer refuses: Usher issues tokens for its Management API
// only.
func (s *Service) CreateResourceServer() error {
	return features.NotOffered("Registering an API", "Usher issues access tokens for its own Management API only")
}

// UpdateResourceServer refuses changes to an API: the Management API is a
// system API.
func (s *Service) UpdateResourceServer(key string) error {
	if _, err := s.ResourceServer(key); err != nil {
		return err
	}
	return errs.Denied("operation_not_supported", "The "+ManagementAPIName+" is a system API: it cannot be changed or deleted.")
}

// scopeDescription names a scope as Auth0 describes its own:
// "read:users_app_metadata" is "Read Users App Metadata".
func scopeDescription(scope string) string {
	words := strings.FieldsFunc(scope, func(r rune) bool { return r == ':' || r == '_' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// derivedID is an id that stays the same for this tenant (it is derived
// from seed) without being stored: n bytes in hex.
func derivedID(seed, kind string, n int) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + seed))
	return hex.EncodeToString(sum[:n])
}

// GlobalClient is Auth0's "All Applications" client, which holds what every
// application shares (in Auth0, the classic login page). Usher keeps nothing
// there: it lists this client when asked for the global one, as Auth0's
// tools look for it, and takes no change to it.
type GlobalClient struct {
	ClientID     string   `json:"client_id"`
	Name         string   `json:"name"`
	Global       bool     `json:"global"`
	IsFirstParty bool     `json:"is_first_party"`
	Callbacks    []string `json:"callbacks"`
}

// GlobalClient returns the tenant's global client.
func (s *Service) GlobalClient() GlobalClient {
	sum := sha256.Sum256([]byte("global client\x00" + s.mgmtAudience))
	id := make([]byte, len(sum)) // 32 alphanumerics, as client ids are
	for i, b := range sum {
		id[i] = alnum[int(b)%len(alnum)]
	}
	return GlobalClient{ClientID: string(id), Name: "All Applications", Global: true, IsFirstParty: true, Callbacks: []string{}}
}

// IsGlobalClient reports whether id is the global client's.
func (s *Service) IsGlobalClient(id string) bool { return id == s.GlobalClient().ClientID }

// UpdateGlobalClient takes a change of the global client that changes
// nothing: its own properties as they are, and no classic login page.
func (s *Service) UpdateGlobalClient(p Patch) (GlobalClient, error) {
	g := s.GlobalClient()
	var cur map[string]any
	data, _ := json.Marshal(g)
	if err := json.Unmarshal(data, &cur); err != nil {
		return GlobalClient{}, err
	}
	cur["custom_login_page_on"] = false
	for k, raw := range p {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return GlobalClient{}, errs.Invalid("invalid_body", "Payload validation error: 'Invalid JSON' on property %s.", k)
		}
		if k == "custom_login_page" && (v == nil || v == "") {
			continue
		}
		if _, known := cur[k]; !known || !features.Same(cur[k], v) {
			return GlobalClient{}, features.NotOffered("A classic login page on the global client (All Applications)",
				"customize the hosted login with the Universal Login template (PUT /api/v2/branding/templates/universal-login), the branding and the custom texts")
		}
	}
	return g, nil
}
