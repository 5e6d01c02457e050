# Who may force a colour with the x-acgs-color header. A refused override is not an error: the
# request goes on with the sticky colour and the client is told why with a response header.
package acgs.gateway

default allow_color_override := false

allow_color_override if {
	authenticated
	some role in roles
	role in cfg.color_override.roles
}

allow_color_override if {
	authenticated
	is_string(claims.sub)
	claims.sub in cfg.color_override.subjects
}

allow_color_override if {
	some cidr in cfg.color_override.client_cidrs
	net.cidr_contains(cidr, input.client_ip)
}

override_headers["x-acgs-color-override"] := "refused" if {
	input.color_override != null
	not allow_color_override
}
