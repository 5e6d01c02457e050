# Who may call what. Everything operators tune lives in data.json (data.acgs.config), so opening a
# route or granting a role is a data change, not a Rego change.
package acgs.gateway

# The reason an allowed request was allowed; undefined when nothing allows it. Rules are ordered so
# the most specific reason wins in the decision log.
allow_reason := "public path" if {
	public_path
} else := "no service matched; routing answers" if {
	input.service == null
} else := "public method on service" if {
	public_method
} else := "role grants method on service" if {
	role_grants
}

# Health endpoints and the like: exact match, or the prefix followed by "/".
public_path if {
	some route in cfg.public_paths
	# Every path under a prefix starts with it: a cheap test that turns most routes away before path_under.
	startswith(input.path, route.prefix)
	path_under(input.path, route.prefix)
	input.method in route.methods
}

path_under(path, prefix) if path == prefix

path_under(path, prefix) if startswith(path, concat("", [trim_suffix(prefix, "/"), "/"]))

public_method if input.method in cfg.services[input.service].public_methods

role_grants if {
	authenticated
	some role in roles
	method_granted(cfg.services[input.service].roles[role])
}

role_grants if {
	authenticated
	some role in roles
	method_granted(cfg.global_roles[role])
}

method_granted(methods) if "*" in methods

method_granted(methods) if input.method in methods

deny_reason := concat("", ["unknown service ", input.service]) if {
	not cfg.services[input.service]
} else := concat("", ["a token is required for ", input.method, " on service ", input.service]) if {
	not authenticated
} else := concat("", ["no role of the caller grants ", input.method, " on service ", input.service])
