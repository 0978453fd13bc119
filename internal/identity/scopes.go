package identity

// managementScopes are the Auth0 Management API scopes Usher knows; every
// endpoint checks one of them.
var managementScopes = []string{
	"read:users", "create:users", "update:users", "delete:users",
	"read:users_app_metadata", "create:users_app_metadata", "update:users_app_metadata", "delete:users_app_metadata",
	"read:user_idp_tokens", "create:user_tickets", "read:user_blocks", "update:user_blocks", "delete:user_blocks",
	"read:clients", "create:clients", "update:clients", "delete:clients",
	"read:client_keys", "update:client_keys", "read:client_credentials",
	"read:client_grants", "create:client_grants", "update:client_grants", "delete:client_grants",
	"read:connections", "create:connections", "update:connections", "delete:connections", "read:connections_options", "update:connections_options",
	"read:tenant_settings", "update:tenant_settings",
	"read:email_provider", "create:email_provider", "update:email_provider", "delete:email_provider",
	"read:email_templates", "create:email_templates", "update:email_templates",
	"read:actions", "create:actions", "update:actions", "delete:actions",
	"read:logs", "read:logs_users",
	"read:branding", "update:branding", "delete:branding",
	"read:prompts", "update:prompts",
	"read:stats",
	"read:signing_keys", "create:signing_keys", "update:signing_keys",
	"read:resource_servers", "create:resource_servers", "update:resource_servers", "delete:resource_servers",
	// Usher's own, for its invitations and outbox endpoints.
	"read:outbox", "update:outbox",
	"create:invitations", "read:invitations", "update:invitations",
}

// ManagementScopes returns every Management API scope.
func ManagementScopes() []string { return append([]string(nil), managementScopes...) }

// IsManagementScope reports whether s is a Management API scope.
func IsManagementScope(s string) bool { return contains(managementScopes, s) }
