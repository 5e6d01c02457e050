package acgs.gateway_test

import data.acgs.gateway

admin_input(action, principal) := {"action": action, "principal": principal, "service": "ac"}

test_named_principal_may_do_everything if {
	d := gateway.admin_decision with input as admin_input("policy.put", {"name": "admin"})
	d.allow
	d.reason == "granted to the principal by name"
}

test_any_admin_may_read if {
	d := gateway.admin_decision with input as admin_input("read", {"name": "someone"})
	d.allow
	d.reason == "granted to every authenticated admin"
}

test_unknown_principal_may_not_write if {
	d := gateway.admin_decision with input as admin_input("weights.set", {"name": "someone"})
	not d.allow
	d.status == 403
	d.reason == "principal someone may not weights.set"
}

test_operator_role_covers_rollout_wildcard if {
	gateway.admin_decision.allow with input as admin_input("rollout.pause", {"name": "op", "roles": ["operator"]})
	gateway.admin_decision.allow with input as admin_input("weights.set", {"name": "op", "roles": ["operator"]})
	not gateway.admin_decision.allow with input as admin_input("policy.put", {"name": "op", "roles": ["operator"]})
}

test_release_role_may_only_push_bundles if {
	d := gateway.admin_decision with input as admin_input("policy.put", {"name": "ci", "roles": ["release", 7]})
	d.reason == "granted to a role of the principal"
	not gateway.admin_decision.allow with input as admin_input("rollout.start", {"name": "ci", "roles": ["release"]})
}

test_wildcard_needs_the_dot if {
	not gateway.action_matches("rollout.*", "rolloutx")
	gateway.action_matches("rollout.*", "rollout.abort")
}

test_malformed_admin_input_is_400 if {
	d := gateway.admin_decision with input as {"action": "read"}
	d.status == 400
	not d.allow
}
