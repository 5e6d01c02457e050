package acgs.gateway_test

import data.acgs.gateway

test_anonymous_get_is_public if {
	d := gateway.decision with input as base_request
	d.allow
	d.status == 200
	d.reason == "public method on service"
	not d.headers
}

test_anonymous_write_is_refused_with_401 if {
	d := gateway.decision with input as request({"method": "POST"})
	not d.allow
	d.status == 401
	d.reason == "a token is required for POST on service ac"
}

test_authenticated_write_without_role_is_403 if {
	d := gateway.decision with input as request({"method": "POST", "claims": {"sub": "u", "roles": ["reader"]}})
	not d.allow
	d.status == 403
}

test_malformed_input_is_400 if {
	d := gateway.decision with input as request({"path": "no-slash"})
	not d.allow
	d.status == 400
	d.reason == "input.path must be a string starting with /"
}

test_screening_wins_over_roles if {
	d := gateway.decision with input as request({
		"claims": {"sub": "root", "roles": ["admin"]},
		"screening": {
			"matches": [{"rule": "sqli-libinjection", "category": "sqli", "where": "query", "key": "q"}],
			"categories": ["sqli"], "body_inspected": false, "body_skipped": null,
			"timed_out": false, "truncated": false,
		},
	})
	not d.allow
	d.status == 403
	d.reason == "sqli in query q (rule sqli-libinjection)"
}

test_refused_override_is_reported_in_a_header if {
	d := gateway.decision with input as request({"color_override": "green"})
	d.allow
	not d.allow_color_override
	d.headers == {"x-acgs-color-override": "refused"}
}

test_denied_decision_carries_override_header_too if {
	d := gateway.decision with input as request({"method": "DELETE", "color_override": "blue"})
	not d.allow
	d.headers["x-acgs-color-override"] == "refused"
}

test_every_decision_has_the_contract_fields if {
	some req in [base_request, request({"method": "POST"}), request({"path": 1}), with_query("<script>")]
	d := gateway.decision with input as req
	is_boolean(d.allow)
	is_number(d.status)
	is_string(d.reason)
	is_boolean(d.allow_color_override)
}
