package acgs.gateway_test

import data.acgs.gateway

test_tester_role_may_override if {
	d := gateway.decision with input as request({"color_override": "green", "claims": {"roles": ["tester"]}})
	d.allow_color_override
	not d.headers
}

test_anonymous_may_not_override if {
	not gateway.allow_color_override with input as request({"color_override": "green"})
}

test_plain_user_may_not_override if {
	not gateway.allow_color_override with input as request({"color_override": "blue", "claims": {"sub": "u", "roles": ["ac.writer"]}})
}

test_subject_listed_in_data_may_override if {
	gateway.allow_color_override with input as request({"claims": {"sub": "qa-bot"}})
		with data.acgs.config.color_override.subjects as ["qa-bot"]
}

test_client_cidr_listed_in_data_may_override if {
	gateway.allow_color_override with input as request({"client_ip": "10.1.2.3"})
		with data.acgs.config.color_override.client_cidrs as ["10.0.0.0/8"]
	not gateway.allow_color_override with input as request({"client_ip": "11.1.2.3"})
		with data.acgs.config.color_override.client_cidrs as ["10.0.0.0/8"]
}

test_no_header_when_no_override_asked if {
	d := gateway.decision with input as base_request
	not d.headers
}

test_decision_grants_an_override_only_when_one_is_asked if {
	tester := {"claims": {"sub": "t", "roles": ["tester"]}}
	asked := gateway.decision with input as request(object.union(tester, {"color_override": "blue"}))
	asked.allow_color_override
	not_asked := gateway.decision with input as request(tester)
	not_asked.allow
	not not_asked.allow_color_override
}
