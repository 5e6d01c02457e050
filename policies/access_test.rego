package acgs.gateway_test

import data.acgs.gateway

writer := {"sub": "u1", "roles": ["ac.writer"]}

test_public_path_allows_anyone if {
	d := gateway.decision with input as request({"path": "/healthz", "service": null})
	d.allow
	d.reason == "public path"
}

test_public_path_is_matched_by_segment_not_by_prefix_text if {
	d := gateway.decision with input as request({"path": "/healthzzz", "service": null, "method": "POST"})
	d.reason != "public path"
}

test_public_path_below_prefix if {
	gateway.public_path with input as request({"path": "/readyz/deep"})
}

test_unrouted_path_is_left_to_routing if {
	d := gateway.decision with input as request({"path": "/nowhere", "service": null, "method": "POST"})
	d.allow
	d.reason == "no service matched; routing answers"
}

test_role_grants_write_on_its_service if {
	d := gateway.decision with input as request({"method": "POST", "claims": writer})
	d.allow
	d.reason == "role grants method on service"
}

test_role_does_not_grant_other_services if {
	d := gateway.decision with input as request({"method": "POST", "claims": writer, "service": "fv", "path": "/api/fv/x"})
	not d.allow
	d.status == 403
	d.reason == "no role of the caller grants POST on service fv"
}

test_global_admin_role_grants_everything if {
	d := gateway.decision with input as request({"method": "DELETE", "claims": {"roles": ["admin"]}, "service": "pgc"})
	d.allow
}

test_roles_without_verified_claims_count_for_nothing if {
	not gateway.role_grants with input as request({"method": "POST", "claims": null})
}

test_unknown_service_is_denied if {
	d := gateway.decision with input as request({"method": "POST", "service": "zz"})
	not d.allow
	d.reason == "unknown service zz"
}

test_data_change_opens_a_route_without_rego_change if {
	d := gateway.decision with input as request({"method": "POST"})
		with data.acgs.config.services.ac.public_methods as ["GET", "POST"]
	d.allow
}

test_public_prefix_with_a_trailing_slash_covers_what_is_below_it_only if {
	routes := [{"prefix": "/status/", "methods": ["GET"]}]
	gateway.public_path with input as request({"path": "/status/x"}) with data.acgs.config.public_paths as routes
	gateway.public_path with input as request({"path": "/status/"}) with data.acgs.config.public_paths as routes
	not gateway.public_path with input as request({"path": "/status"}) with data.acgs.config.public_paths as routes
	not gateway.public_path with input as request({"path": "/statusx"}) with data.acgs.config.public_paths as routes
}
