# Request screening: SQL injection, cross-site scripting, command injection and path traversal in
# the canonical path, query names and values, and the headers listed in data (screening.headers).
#
# The patterns look for the *structure* of an attack (a quote closing a string and then a boolean
# operator and a comparison; a shell separator then a known command and an argument), not for
# keywords alone, so ordinary text such as "O'Brien", "select a plan", "rock & roll" or
# "1 + 1 = 2" passes. The path has been percent-decoded once by the gateway, query values by the
# query parser; encoded forms that survive that one decode (double encoding) are matched explicitly.
# All patterns are RE2 (the regex engine compiled into the wasm module).
package acgs.gateway

# Raw strings cannot hold a backtick, so patterns that need one are concatenated around this.
backtick := "\u0060"

screening_patterns := {
	"sql injection pattern": [
		# ' OR 1=1 --   ' or 'a'='a   ')) || 'x'<'y
		`(?i)['"]\s*\)*\s*((or|and|xor)\s+|\|\||&&)\s*[^\s=<>]+\s*(=|<>|!=|<|>|like\b|is\b)`,
		# 1 OR 1=1 in a numeric parameter
		`(?i)\b(or|and)\s+(\d+|'[^']*'|"[^"]*")\s*(=|<>|!=)\s*(\d+|'[^']*'|"[^"]*")(\s|$|--|#|;|\))`,
		# UNION SELECT, also with comments or plus signs between the words
		`(?i)\bunion[\s/*+()]+((all|distinct)[\s/*+()]+)?select\b`,
		# a quote closing the string, then a comment swallowing the rest: admin'--
		`(?i)['"]\s*\)*\s*(--|/\*)`,
		# stacked queries: ; DROP TABLE users
		`(?i);\s*((drop|truncate|alter|create)\s+(table|database|schema|user)\b|delete\s+from\b|insert\s+into\b|update\s+\w+\s+set\b|exec(ute)?\s+\w|shutdown\b)`,
		# time-based blind probes
		`(?i)\b(sleep|pg_sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+delay\s+'`,
		`(?i)\b(information_schema|sqlite_master|xp_cmdshell)\b`,
	],
	"cross-site scripting pattern": [
		`(?i)<\s*/?\s*(script|iframe|frame|frameset|object|embed|applet|svg|img|image|body|math|details|video|audio|meta|base|form|style|link|marquee|isindex)\b`,
		# the same tags double-encoded, as HTML entities or as JS escapes
		`(?i)(%(25)*3c|&lt;?|&#0*60;?|&#x0*3c;?|\\u003c|\\x3c)\s*/?\s*(script|iframe|svg|img|body|object|embed)\b`,
		`(?i)\b(javascript|vbscript|livescript)\s*:`,
		`(?i)\bon(abort|animationend|animationstart|auxclick|beforeunload|begin|blur|change|click|contextmenu|copy|cut|dblclick|drag|dragend|dragenter|dragleave|dragover|dragstart|drop|error|focus|focusin|focusout|hashchange|input|keydown|keypress|keyup|load|message|mousedown|mouseenter|mouseleave|mousemove|mouseout|mouseover|mouseup|pageshow|paste|pointerdown|pointerenter|pointerover|popstate|resize|scroll|select|submit|toggle|transitionend|unload|wheel)\s*=`,
		`(?i)\bdata\s*:\s*text/html|\bsrcdoc\s*=`,
	],
	"command injection pattern": [
		# a shell separator, a command, then an argument-looking token or the end: ; cat /etc/passwd
		concat("", [`(?i)(;|&&|\|\||\||&|\n)\s*(cat|ls|id|whoami|uname|curl|wget|nc|ncat|netcat|bash|sh|zsh|ksh|python[23]?|perl|ruby|php|rm|chmod|chown|ping|nslookup|powershell|cmd|busybox|telnet|ifconfig|printenv)(\s+([-/.~$'"\d]|\w+://)|\s*$|\s*[;&|><`, backtick, `])`]),
		# command substitution: $(id), backquoted commands, ${IFS}
		`(?i)\$\(\s*[a-z/.]`,
		concat("", [`(?i)`, backtick, `\s*(cat|ls|id|whoami|uname|curl|wget|nc|bash|sh|python[23]?|perl|rm|ping|sleep|echo)\b[^`, backtick, `]*`, backtick]),
		`(?i)\$\{?ifs\}?`,
	],
	"path traversal pattern": [
		# ../ and ..\ as a segment, plain or (double-)percent-encoded or overlong UTF-8
		`(?i)(^|[/\\=]|%(25)*(2f|5c))(\.|%(25)*2e|%c0%ae|%u002e){2}([/\\]|%(25)*(2f|5c)|%c0%af|%u2215|$)`,
		# NUL bytes cut paths short in C-based backends
		`(?i)%(25)*00|\x00`,
		`(?i)/(etc/(passwd|shadow|group|hosts)|bin/(ba|z|k)?sh|proc/self/)`,
	],
}

# [where, value] pairs to screen.
screening_targets contains ["path", input.path] if is_string(input.path)

screening_targets contains [concat("", ["query parameter ", name]), value] if {
	some name, values in input.query
	some value in values
	is_string(value)
}

screening_targets contains ["query parameter name", name] if {
	some name, _ in input.query
}

screening_targets contains [concat("", ["header ", name]), value] if {
	some name in cfg.screening.headers
	value := input.headers[name]
	is_string(value)
}

# Cheap gates before the regexes. The wasm runtime compiles each distinct pattern once per evaluation
# (its regex cache lives on the per-evaluation heap), which costs far more than a substring test; a
# value that contains none of a kind's trigger sets cannot match that kind's patterns, so ordinary
# values (and browser User-Agents full of ";") never reach a regex. A trigger set is a list of
# substrings that must all occur; keep them a superset of what the patterns below require.
screening_triggers := {
	"sql injection pattern": [
		["'"], ["\""], ["union"], ["sleep"], ["benchmark"], ["waitfor"],
		["information_schema"], ["sqlite_master"], ["xp_cmdshell"],
		["=", "or"], ["=", "and"], ["<>", "or"], ["<>", "and"],
		[";", "drop"], [";", "truncate"], [";", "alter"], [";", "create"], [";", "delete"],
		[";", "insert"], [";", "update"], [";", "exec"], [";", "shutdown"],
	],
	"cross-site scripting pattern": [
		["<"], ["%3c"], ["&lt"], ["&#"], ["\\u003c"], ["\\x3c"], ["script"], ["text/html"],
		["=", "on"], ["=", "srcdoc"],
	],
	"command injection pattern": [["$"], [backtick], [";"], ["&"], ["|"], ["\n"]],
	"path traversal pattern": [[".."], ["%"], ["\u0000"], ["/etc/"], ["/bin/"], ["/proc/"]],
}

# One alternation per kind: one compile per kind and evaluation instead of one per pattern.
screening_regex[kind] := concat("|", [concat("", ["(?:", p, ")"]) | some p in patterns]) if {
	some kind, patterns in screening_patterns
}

might_match(kind, lowered) if {
	some required in screening_triggers[kind]
	every part in required {
		contains(lowered, part)
	}
}

violations contains concat("", [kind, " in ", where]) if {
	some [where, value] in screening_targets
	lowered := lower(value)
	some kind, re in screening_regex
	might_match(kind, lowered)
	regex.match(re, value)
}
