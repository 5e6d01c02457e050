# Screening decisions. The gateway's screening stage (libddwaf: libinjection plus the targeted rules in
# policies/screening-rules.json) has already inspected the path, query, headers, cookies and small
# JSON/form bodies; input.screening lists what matched (rule id, category, where, key), never the values.
# The policy decides: by default every match denies with 403 and its category in the reason, unless an
# exemption in data (screening.exemptions) covers it.
package acgs.gateway

violations contains concat("", [m.category, " in ", m.where, key_suffix(m), " (rule ", m.rule, ")"]) if {
	some m in screening_matches
	not screening_exempt(m)
}

screening_matches contains m if {
	is_object(input.screening)
	some m in input.screening.matches
}

key_suffix(m) := concat("", [" ", m.key]) if m.key != ""

else := ""

# An exemption applies when every field it sets matches (a field left out matches anything):
#   service: the routed service; prefix: a canonical path prefix; methods: HTTP methods;
#   roles: the caller holds one of them; categories: the match's category is one of them.
screening_exempt(m) if {
	some e in object.get(cfg, ["screening", "exemptions"], [])
	exemption_applies(e, m)
}

exemption_applies(e, m) if {
	object.get(e, "service", input.service) == input.service
	startswith(input.path, object.get(e, "prefix", "/"))
	listed_or_unset(e, "methods", input.method)
	listed_or_unset(e, "categories", m.category)
	role_allowed(e)
}

listed_or_unset(e, field, _) if not e[field]

listed_or_unset(e, field, value) if value in e[field]

role_allowed(e) if not e.roles

role_allowed(e) if {
	some role in e.roles
	role in roles
}
