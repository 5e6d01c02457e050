package acgs.gateway_test

import data.acgs.gateway

# Findings as the gateway's screening stage reports them (input.screening).
finding(rule, category, where, key) := {"rule": rule, "category": category, "where": where, "key": key}

screened(matches) := {
	"matches": matches,
	"categories": sort({m.category | some m in matches}),
	"body_inspected": false,
	"body_skipped": null,
	"timed_out": false,
	"truncated": false,
}

with_findings(matches, overrides) := object.union(request({"screening": screened(matches)}), overrides)

sqli_in_query := finding("sqli-libinjection", "sqli", "query", "q")

test_no_findings_no_violation if {
	d := gateway.decision with input as with_findings([], {})
	d.allow
}

test_screening_off_no_violation if {
	d := gateway.decision with input as request({"screening": null})
	d.allow
}

test_input_without_screening_is_accepted if {
	d := gateway.decision with input as base_request
	d.allow
}

test_match_denies_with_category_and_place if {
	d := gateway.decision with input as with_findings([sqli_in_query], {})
	not d.allow
	d.status == 403
	d.reason == "sqli in query q (rule sqli-libinjection)"
}

test_every_category_denies if {
	every category in ["sqli", "xss", "command_injection", "path_traversal", "protocol"] {
		d := gateway.decision with input as with_findings([finding("r", category, "header", "x-a")], {})
		d.status == 403
		d.reason == concat("", [category, " in header x-a (rule r)"])
	}
}

test_match_without_key_names_only_the_place if {
	d := gateway.decision with input as with_findings([finding("lfi-dot-dot-slash", "path_traversal", "path", "")], {})
	d.reason == "path_traversal in path (rule lfi-dot-dot-slash)"
}

test_several_matches_are_joined_sorted if {
	d := gateway.decision with input as with_findings(
		[finding("xss-libinjection", "xss", "body", "comment"), sqli_in_query],
		{},
	)
	d.reason == "sqli in query q (rule sqli-libinjection); xss in body comment (rule xss-libinjection)"
}

test_screening_wins_over_admin_role if {
	d := gateway.decision with input as with_findings([sqli_in_query], {"claims": {"sub": "root", "roles": ["admin"]}})
	d.status == 403
}

# The default data exempts sqli on gs /admin/queries for admin and gs.writer.
gs_queries := {
	"path": "/api/gs/admin/queries/run",
	"segments": ["api", "gs", "admin", "queries", "run"],
	"service": "gs",
	"rest": "/admin/queries/run",
	"method": "POST",
	"claims": {"sub": "dba", "roles": ["gs.writer"]},
}

test_exemption_lets_the_route_through_for_the_role if {
	d := gateway.decision with input as with_findings([finding("sqli-union-select", "sqli", "body", "sql")], gs_queries)
	d.allow
}

test_exemption_needs_the_role if {
	d := gateway.decision with input as with_findings(
		[finding("sqli-union-select", "sqli", "body", "sql")],
		object.union(gs_queries, {"claims": {"sub": "u", "roles": ["viewer"]}}),
	)
	d.status == 403
}

test_exemption_covers_only_its_category if {
	d := gateway.decision with input as with_findings([finding("xss-libinjection", "xss", "body", "sql")], gs_queries)
	d.status == 403
	d.reason == "xss in body sql (rule xss-libinjection)"
}

test_exemption_covers_only_its_prefix if {
	d := gateway.decision with input as with_findings(
		[finding("sqli-union-select", "sqli", "body", "sql")],
		object.union(gs_queries, {"path": "/api/gs/other", "rest": "/other"}),
	)
	d.status == 403
}

test_exemption_covers_only_its_service if {
	d := gateway.decision with input as with_findings(
		[finding("sqli-union-select", "sqli", "body", "sql")],
		object.union(gs_queries, {"service": "ac", "path": "/api/gs/admin/queries/run"}),
	)
	d.status == 403
}

test_exemption_with_methods_and_no_roles if {
	exemptions := [{"prefix": "/api/ac/search", "methods": ["GET"], "categories": ["xss"]}]
	ok := gateway.decision with input as with_findings(
		[finding("xss-script-tags", "xss", "query", "q")],
		{"path": "/api/ac/search", "rest": "/search"},
	)
		with data.acgs.config.screening.exemptions as exemptions
	ok.allow
	post := gateway.decision with input as with_findings(
		[finding("xss-script-tags", "xss", "query", "q")],
		{"path": "/api/ac/search", "rest": "/search", "method": "POST"},
	)
		with data.acgs.config.screening.exemptions as exemptions
	post.status == 403
}

test_exemption_with_empty_categories_exempts_nothing if {
	d := gateway.decision with input as with_findings([sqli_in_query], {})
		with data.acgs.config.screening.exemptions as [{"service": "ac", "categories": []}]
	d.status == 403
}

test_no_exemptions_in_data if {
	d := gateway.decision with input as with_findings([sqli_in_query], {})
		with data.acgs.config.screening as {}
	d.status == 403
}

test_malformed_screening_is_400 if {
	d := gateway.decision with input as request({"screening": {"matches": "x"}})
	d.status == 400
	d.reason == "input.screening must be null or an object with a matches array"
}

test_malformed_match_is_400 if {
	d := gateway.decision with input as request({"screening": screened([{"rule": 1}])})
	d.status == 400
}
