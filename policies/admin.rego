# Admin-plane decisions: who may change weights, drive rollouts or push policy bundles.
# Input: {"action": "weights.set", "principal": {"name": "ops", "roles": ["operator"]}, "service": "ac"}.
# Actions are dotted names; a grant of "rollout.*" covers every rollout action, "*" everything.
package acgs.gateway

admin_cfg := cfg.admin

admin_decision := {
	"allow": false,
	"status": 400,
	"reason": "admin input needs a string action and a principal with a string name",
} if {
	not admin_input_valid
} else := {
	"allow": true,
	"status": 200,
	"reason": admin_allow_reason,
} if {
	admin_allow_reason
} else := {
	"allow": false,
	"status": 403,
	"reason": concat("", ["principal ", input.principal.name, " may not ", input.action]),
}

admin_input_valid if {
	is_string(input.action)
	input.action != ""
	is_string(input.principal.name)
}

admin_roles contains role if {
	some role in input.principal.roles
	is_string(role)
}

admin_allow_reason := "granted to the principal by name" if {
	some grant in admin_cfg.principals[input.principal.name]
	action_matches(grant, input.action)
} else := "granted to a role of the principal" if {
	some role in admin_roles
	some grant in admin_cfg.roles[role]
	action_matches(grant, input.action)
} else := "granted to every authenticated admin" if {
	some grant in admin_cfg.any_authenticated
	action_matches(grant, input.action)
}

action_matches("*", _)

action_matches(grant, action) if grant == action

action_matches(grant, action) if {
	endswith(grant, ".*")
	startswith(action, trim_suffix(grant, "*"))
}
