package acgs.gateway_test

import data.acgs.gateway

# Ordinary text that looks a little like an attack must pass.
benign := [
	"O'Brien", "select a plan", "rock & roll", "1 + 1 = 2", "C:/ is not a path",
	"Eat; sleep; repeat", "cats & dogs", "wait.../ok", "it's 'and' fine", "Tom & Jerry | cat lovers",
	"javascript is fun", "one=1", "100% sure", "a<b", "union station", "Q&A", "/var/log is a dir",
	"en-GB,en;q=0.9", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
]

attacks := {
	"' OR 1=1 --": "sql injection pattern",
	"x' or 'a'='a": "sql injection pattern",
	"1 or 1=1": "sql injection pattern",
	"1 UNION SELECT password FROM users": "sql injection pattern",
	"1 UNION/**/ALL/**/SELECT 1": "sql injection pattern",
	"admin'--": "sql injection pattern",
	"1; DROP TABLE users": "sql injection pattern",
	"1 AND sleep(5)": "sql injection pattern",
	"SELECT * FROM information_schema.tables": "sql injection pattern",
	"<script>alert(1)</script>": "cross-site scripting pattern",
	"%3Cscript%3Ealert(1)": "cross-site scripting pattern",
	"javascript:alert(1)": "cross-site scripting pattern",
	"<img src=x onerror=alert(1)>": "cross-site scripting pattern",
	"x\" onmouseover=\"alert(1)": "cross-site scripting pattern",
	"data:text/html;base64,PHNjcmlwdD4=": "cross-site scripting pattern",
	"; cat /etc/passwd": "command injection pattern",
	"$(id)": "command injection pattern",
	"`id`": "command injection pattern",
	"| ls -la": "command injection pattern",
	"&& whoami": "command injection pattern",
	"a;${IFS}cat": "command injection pattern",
	"../../etc/passwd": "path traversal pattern",
	"..\\..\\windows\\win.ini": "path traversal pattern",
	"%2e%2e%2fsecret": "path traversal pattern",
	"..%2fsecret": "path traversal pattern",
	"%252e%252e%252fsecret": "path traversal pattern",
	"%c0%ae%c0%ae/secret": "path traversal pattern",
	"file.txt%00.png": "path traversal pattern",
}

test_benign_look_alikes_pass if {
	every text in benign {
		count(gateway.violations) == 0 with input as with_query(text)
	}
}

test_attacks_in_query_values_are_stopped_with_their_kind if {
	every text, kind in attacks {
		concat("", [kind, " in query parameter q"]) in gateway.violations with input as with_query(text)
	}
}

test_attack_in_path_is_stopped if {
	d := gateway.decision with input as request({"path": "/api/ac/<script>"})
	d.status == 403
	d.reason == "cross-site scripting pattern in path"
}

test_double_encoded_traversal_in_path_is_stopped if {
	"path traversal pattern in path" in gateway.violations with input as request({"path": "/api/ac/%2e%2e%2fadmin"})
}

test_attack_in_query_name_is_stopped if {
	"cross-site scripting pattern in query parameter name" in gateway.violations with input as request({"query": {"<script>": ["1"]}})
}

test_attack_in_screened_header_is_stopped if {
	d := gateway.decision with input as request({"headers": {"referer": "http://x/?q=' OR 1=1 --"}})
	d.reason == "sql injection pattern in header referer"
}

test_unscreened_header_is_ignored if {
	count(gateway.violations) == 0 with input as request({"headers": {"x-custom": "<script>"}})
}

test_several_findings_are_joined_sorted if {
	d := gateway.decision with input as with_query("; cat /etc/passwd")
	d.reason == "command injection pattern in query parameter q; path traversal pattern in query parameter q"
}
