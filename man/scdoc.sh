#!/bin/sh
# scdoc, then tidy the paragraph macros it emits where mandoc -Tlint calls
# them empty ("PP after SH", "PP empty"): a .P closing an indented block
# moves after its .RE (same spacing, now a real paragraph break), and a .P
# right after .TH/.SH/.SS or another .P, or right before a heading, goes.
# The rendered text is unchanged.  Usage: scdoc.sh SCDOC < page.scd
# A page scdoc cannot parse fails the build: scdoc stops at the error and
# would otherwise leave a page cut short there.
page=$("$1") || { echo "scdoc.sh: scdoc failed on this page (see above)" >&2; exit 1; }
printf '%s\n' "$page" | awk '
{ line[NR] = $0 }
END {
	for (i = 1; i < NR; i++)
		if (line[i] == ".P" && line[i + 1] == ".RE") {
			line[i] = ".RE"
			line[i + 1] = ".P"
		}
	prev = ""
	for (i = 1; i <= NR; i++) {
		l = line[i]
		if (l == ".P" || l == ".PP") {
			if (prev ~ /^\.(TH|SH|SS|P|PP)( |$)/)
				continue
			if (i == NR || line[i + 1] ~ /^\.(SH|SS|P|PP)( |$)/)
				continue
		}
		print l
		if (l !~ /^\.\\"/)
			prev = l
	}
}'
