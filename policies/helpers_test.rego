# Shared fixtures for the Rego unit tests: a well-formed request that each test varies.
package acgs.gateway_test

base_request := {
	"method": "GET",
	"path": "/api/ac/items",
	"segments": ["api", "ac", "items"],
	"query": {},
	"headers": {"user-agent": "curl/8.5.0"},
	"client_ip": "203.0.113.7",
	"claims": null,
	"service": "ac",
	"rest": "/items",
	"color_override": null,
}

request(overrides) := object.union(base_request, overrides)

with_query(value) := request({"query": {"q": [value]}})
