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
	"read:attack_protection", "update:attack_protection",
	"read:guardian_factors", "update:guardian_factors", "read:mfa_policies", "update:mfa_policies",
	"read:directory_provisionings",
	// Resources Auth0 has and Usher lists as empty (see internal/features):
	// the Deploy CLI reads them all, so a token for it needs these too.
	"read:rules", "create:rules", "update:rules", "delete:rules",
	"read:rules_configs", "update:rules_configs", "delete:rules_configs",
	"read:hooks", "create:hooks", "update:hooks", "delete:hooks",
	"read:roles", "create:roles", "update:roles", "delete:roles",
	"read:organizations", "create:organizations", "update:organizations", "delete:organizations",
	"read:log_streams", "create:log_streams", "update:log_streams", "delete:log_streams",
	"read:custom_domains", "create:custom_domains", "update:custom_domains", "delete:custom_domains",
	"read:phone_providers", "create:phone_providers", "update:phone_providers", "delete:phone_providers",
	"read:phone_templates", "create:phone_templates", "update:phone_templates", "delete:phone_templates",
	"read:forms", "create:forms", "update:forms", "delete:forms",
	"read:flows", "create:flows", "update:flows", "delete:flows",
	"read:flows_vault_connections", "create:flows_vault_connections", "update:flows_vault_connections", "delete:flows_vault_connections",
	"read:self_service_profiles", "create:self_service_profiles", "update:self_service_profiles", "delete:self_service_profiles",
	"read:network_acls", "create:network_acls", "update:network_acls", "delete:network_acls",
	"read:user_attribute_profiles", "create:user_attribute_profiles", "update:user_attribute_profiles", "delete:user_attribute_profiles",
	"read:connection_profiles", "create:connection_profiles", "update:connection_profiles", "delete:connection_profiles",
	"read:token_exchange_profiles", "create:token_exchange_profiles", "update:token_exchange_profiles", "delete:token_exchange_profiles",
	"read:rate_limit_policies", "create:rate_limit_policies", "update:rate_limit_policies", "delete:rate_limit_policies",
	"read:event_streams", "create:event_streams", "update:event_streams", "delete:event_streams",
	// Usher's own, for its invitations and outbox endpoints.
	"read:outbox", "update:outbox",
	"create:invitations", "read:invitations", "update:invitations",
}

// ManagementScopes returns every Management API scope.
func ManagementScopes() []string { return append([]string(nil), managementScopes...) }

// IsManagementScope reports whether s is a Management API scope.
func IsManagementScope(s string) bool { return contains(managementScopes, s) }
