# Shape checks on the input document. A gateway bug or a hand-written test input that breaks the
# contract of policies/README.md is answered with 400 and a reason instead of a silent deny.
package acgs.gateway

malformed contains "input must be an object" if not is_object(input)

malformed contains "input.method must be a non-empty string" if {
	is_object(input)
	not valid_method
}

malformed contains "input.path must be a string starting with /" if {
	is_object(input)
	not valid_path
}

malformed contains "input.segments must be an array of strings" if {
	is_object(input)
	not valid_segments
}

malformed contains "input.query must be an object of string arrays" if {
	is_object(input)
	not valid_query
}

malformed contains "input.headers must be an object" if {
	is_object(input)
	not absent("headers")
	not is_object(input.headers)
}

malformed contains "input.color_override must be blue, green or null" if {
	is_object(input)
	not valid_color_override
}

malformed contains "input.screening must be null or an object with a matches array" if {
	is_object(input)
	not valid_screening
}

valid_screening if object.get(input, "screening", null) == null

valid_screening if {
	is_object(input.screening)
	is_array(input.screening.matches)
	every m in input.screening.matches {
		is_string(m.rule)
		is_string(m.category)
		is_string(m.where)
		is_string(m.key)
	}
}

valid_method if {
	is_string(input.method)
	input.method != ""
}

valid_path if {
	is_string(input.path)
	startswith(input.path, "/")
}

# The gateway leaves out the fields this bundle does not read (data.acgs.input.fields): an absent
# segments, query or headers is not malformed. method and path are always read.
absent(field) if not present(field)

present(field) if _ = input[field]

valid_segments if absent("segments")

valid_segments if {
	is_array(input.segments)
	every s in input.segments {
		is_string(s)
	}
}

valid_query if absent("query")

valid_query if {
	is_object(input.query)
	every values in input.query {
		is_array(values)
		every v in values {
			is_string(v)
		}
	}
}

valid_color_override if input.color_override == null

valid_color_override if input.color_override in {"blue", "green"}

# The verified claims, or an empty object for anonymous callers so lookups below stay simple.
claims := input.claims if is_object(input.claims)

else := {}

authenticated if is_object(input.claims)

# Roles from the configured claim: an array of strings or one space-separated string (OAuth scope style).
roles contains role if {
	some role in claims[cfg.roles_claim]
	is_string(role)
}

roles contains role if {
	value := claims[cfg.roles_claim]
	is_string(value)
	some role in split(value, " ")
	role != ""
}
