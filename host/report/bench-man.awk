# `powercut help config` (the option tables) -> the OPTIONS part of powercut-bench(5),
# in scdoc. scdoc's markup characters are escaped.
function esc(s) { gsub(/\\/, "\\\\", s); gsub(/\*/, "\\*", s); gsub(/_/, "\\_", s); return s }
/^\[/ {
	name = $1; $1 = ""; sub(/^ +/, "")
	printf "## %s\n\n%s\n\n", esc(name), esc($0); next
}
/^      / { sub(/^ +/, ""); printf "\t%s\n\n", esc($0); next }
/^  [^ ]/ {
	sub(/^ +/, ""); key = $1; $1 = ""; sub(/^ +/, "")
	printf "*%s* (%s)\n", esc(key), esc($0); next
}
