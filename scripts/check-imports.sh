#!/usr/bin/env bash
# Every `import` of a package module (a target of Package.swift, or a product of a package dependency) in a target's
# sources must name a declared dependency of that target. SwiftPM finds an undeclared module only when the build order
# happens to have built it first, so a clean clone can fail where an incremental build passed (issue 19).
# Usage: scripts/check-imports.sh [PACKAGE_DIR]. Prints one line per undeclared import; exits 1 if there is any.
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# One line per target: NAME<TAB>DIR<TAB>DEP1,DEP2,... (Package.swift flattened, comments dropped, split at each target).
targets=$(sed -e 's://.*$::' Package.swift | tr '\n' ' ' | awk '
  {
    s = $0
    n = split(s, parts, /\.(target|testTarget|executableTarget|systemLibrary|binaryTarget|macro|plugin)\(/)
    # The kind of each part: the text that split consumed, found again in order.
    rest = s
    for (i = 2; i <= n; i++) {
      match(rest, /\.(target|testTarget|executableTarget|systemLibrary|binaryTarget|macro|plugin)\(/)
      kind = substr(rest, RSTART + 1, RLENGTH - 2)
      rest = substr(rest, RSTART + RLENGTH)
      p = parts[i]
      if (!match(p, /name: *"[^"]+"/)) continue
      name = substr(p, RSTART, RLENGTH); sub(/name: *"/, "", name); sub(/"$/, "", name)
      dir = (kind == "testTarget" ? "Tests/" : "Sources/") name
      if (match(p, /path: *"[^"]+"/)) { dir = substr(p, RSTART, RLENGTH); sub(/path: *"/, "", dir); sub(/"$/, "", dir) }
      deps = ""
      if (match(p, /dependencies: *\[/)) {
        d = substr(p, RSTART + RLENGTH)
        # The bracketed list: up to the matching "]".
        depth = 1; out = ""
        for (j = 1; j <= length(d) && depth > 0; j++) {
          c = substr(d, j, 1)
          if (c == "[") depth++
          else if (c == "]") depth--
          if (depth > 0) out = out c
        }
        # .product(name: "X", package: "p") declares X; a bare "X" declares target X.
        gsub(/package: *"[^"]*"/, "", out)
        while (match(out, /"[^"]+"/)) {
          deps = deps (deps == "" ? "" : ",") substr(out, RSTART + 1, RLENGTH - 2)
          out = substr(out, RSTART + RLENGTH)
        }
      }
      print name "\t" dir "\t" deps
    }
  }')

# Package modules: the targets, and the products named in any dependency list (package dependencies' products).
modules=$( { cut -f1 <<< "$targets"; cut -f3 <<< "$targets" | tr ',' '\n'; } | sed '/^$/d' | sort -u)

bad=0
while IFS=$'\t' read -r name dir deps; do
  [[ -d "$dir" ]] || continue
  while IFS= read -r hit; do
    file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}; text=${rest#*:}
    # import [kind] Module[.Sub], after attributes (@testable, @_exported, ...) and access levels.
    module=$(sed -E 's/^[[:space:]]*(@[A-Za-z_]+([(][^)]*[)])?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]+((typealias|struct|class|enum|protocol|let|var|func)[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*).*/\7/' <<< "$text")
    grep -qxF "$module" <<< "$modules" || continue
    [[ "$module" == "$name" ]] && continue
    if ! tr ',' '\n' <<< "$deps" | grep -qxF "$module"; then
      echo "check-imports: $file:$line imports $module, which is not a declared dependency of target $name in Package.swift"
      bad=1
    fi
  done < <(grep -rnE --include='*.swift' '^[[:space:]]*(@[A-Za-z_]+([(][^)]*[)])?[[:space:]]+)*((public|package|internal|fileprivate|private)[[:space:]]+)?import[[:space:]]' "$dir" || true)
done <<< "$targets"

if [[ $bad -ne 0 ]]; then exit 1; fi
echo "check-imports: every package-module import is a declared dependency ($(wc -l <<< "$targets") targets)"
