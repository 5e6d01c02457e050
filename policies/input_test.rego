package acgs.gateway_test

import data.acgs.gateway

test_well_formed_input_has_no_shape_errors if {
	count(gateway.malformed) == 0 with input as base_request
}

test_non_object_input if {
	gateway.malformed == {"input must be an object"} with input as "GET /"
}

test_each_field_is_checked if {
	gateway.malformed == {"input.method must be a non-empty string"} with input as request({"method": ""})
	gateway.malformed == {"input.segments must be an array of strings"} with input as request({"segments": [1]})
	gateway.malformed == {"input.query must be an object of string arrays"} with input as request({"query": {"a": "b"}})
	gateway.malformed == {"input.query must be an object of string arrays"} with input as request({"query": {"a": [1]}})
	gateway.malformed == {"input.headers must be an object"} with input as request({"headers": []})
	gateway.malformed == {"input.color_override must be blue, green or null"} with input as request({"color_override": "red"})
}

test_several_shape_errors_are_all_reported_sorted if {
	d := gateway.decision with input as request({"method": 5, "headers": null})
	d.status == 400
	d.reason == "input.headers must be an object; input.method must be a non-empty string"
}

test_missing_claims_mean_anonymous if {
	req := object.remove(base_request, ["claims"])
	not gateway.authenticated with input as req
	gateway.decision.allow with input as req
}

test_roles_from_array_claim if {
	gateway.roles == {"a", "b"} with input as request({"claims": {"roles": ["a", "b", 3]}})
}

test_roles_from_space_separated_claim if {
	gateway.roles == {"a", "b"} with input as request({"claims": {"roles": "a  b"}})
}

# The gateway leaves out what data.acgs.input.fields does not list: a projected input is not malformed.
test_projected_input_is_well_formed if {
	count(gateway.malformed) == 0 with input as {
		"method": "GET", "path": "/api/ac/x", "client_ip": "10.0.0.1", "claims": null,
		"service": "ac", "color_override": null, "screening": null,
	}
}

test_present_but_wrong_query_is_still_malformed if {
	"input.query must be an object of string arrays" in gateway.malformed with input as {
		"method": "GET", "path": "/", "query": [], "headers": {},
	}
}

test_false_headers_is_malformed if {
	"input.headers must be an object" in gateway.malformed with input as {"method": "GET", "path": "/", "headers": false}
}
