package identity

import "time"

// Permission is a permission granted directly to a user on an API, as
// Auth0's /api/v2/users/{id}/permissions shows it.
type Permission struct {
	ResourceServerIdentifier string `json:"resource_server_identifier"`
	PermissionName           string `json:"permission_name"`
}

// AdminPermission, granted on the Management API audience, lets a person
// into the dashboard.
const AdminPermission = "usher:admin"

// InvitationDay is what happened to invitations on one UTC day: how many
// were sent (created), accepted, and ran out (expired without acceptance).
type InvitationDay struct {
	Day                     time.Time // midnight UTC
	Sent, Accepted, Expired int
}

// InvitationStats are the invitations of a period, day by day, and how many
// of those sent in the period have been accepted.
type InvitationStats struct {
	Days []InvitationDay // every day of the period, oldest first
	// Sent counts the invitations created in the period; SentAccepted
	// those of them accepted by now.
	Sent, SentAccepted int
}
