# The data-plane decision: one object per request, assembled from the rules in this package.
# Order matters and is explicit (else-chain): a malformed input is a 400 before anything else, a
# screening hit is a 403 even for an admin, then public routes and roles decide.
package acgs.gateway

cfg := data.acgs.config

# Exactly one of the branches below always applies, so `decision` is never undefined for an object
# input; the gateway still fails closed if it ever is.
decision := {
	"allow": false,
	"status": 400,
	"reason": concat("; ", sort(malformed)),
	"allow_color_override": false,
} if {
	count(malformed) > 0
} else := with_headers({
	"allow": false,
	"status": 403,
	"reason": concat("; ", sort(violations)),
	"allow_color_override": false,
}) if {
	count(violations) > 0
} else := with_headers({
	"allow": true,
	"status": 200,
	"reason": allow_reason,
	"allow_color_override": color_override_granted,
}) if {
	allow_reason
} else := with_headers({
	"allow": false,
	"status": deny_status,
	"reason": deny_reason,
	"allow_color_override": false,
})

# 401 when presenting a token could change the answer (anonymous caller on a known service), as
# DESIGN.md's contract has it for "no token"; 403 when the caller is known and still not allowed.
deny_status := 401 if {
	cfg.services[input.service]
	not authenticated
} else := 403

# Response headers only when there is something to say, so a plain decision stays small.
with_headers(d) := object.union(d, {"headers": response_headers}) if {
	count(response_headers) > 0
} else := d

response_headers[name] := value if {
	some name, value in override_headers
}

# Whether the colour this request asks for may be honoured. A request that asks for none gets false:
# the gateway reads the field only when a colour was asked for, and working out who may override
# (roles, subjects, CIDRs) is about a sixth of an allowed decision's cost.
color_override_granted := allow_color_override if input.color_override != null

else := false
