#!/usr/bin/env bash
# Checks that every relative link in the repository's Markdown (README.md and docs/) resolves:
# the file or directory exists, and a `#fragment` names a heading of the target file (GitHub's
# anchor rules: lower-cased, punctuation dropped, spaces to hyphens, `-1`, `-2`... for repeats;
# non-ASCII letters are dropped too, which GitHub keeps — no heading here relies on one).
# Links in fenced code blocks are ignored; absolute URLs are not fetched. No network.
#
# Usage: scripts/check-doc-links.sh [FILE.md...]   (default: README.md and docs/**/*.md)
# Exits 1 and lists the broken links if there are any.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    files=(README.md)
    while IFS= read -r f; do files+=("$f"); done < <(find docs -name '*.md' | sort)
fi

# The anchors of a Markdown file's headings, one per line.
anchors() {
    awk '
        /^(```|~~~)/ { fenced = !fenced; next }
        fenced { next }
        /^#+[ \t]/ {
            h = $0
            sub(/^#+[ \t]+/, "", h); sub(/[ \t#]+$/, "", h)
            h = tolower(h)
            gsub(/[^a-z0-9 _-]/, "", h)
            gsub(/ /, "-", h)
            if (h in seen) { seen[h]++; h = h "-" seen[h] } else { seen[h] = 0 }
            print h
        }
    ' "$1"
}

# The link targets of a Markdown file, one `LINE<TAB>TARGET` per line.
links() {
    awk '
        /^(```|~~~)/ { fenced = !fenced; next }
        fenced { next }
        {
            line = $0
            # Drop code spans, whose brackets are not links.
            gsub(/`[^`]*`/, "", line)
            while (match(line, /\]\([^) \t]+\)/)) {
                print NR "\t" substr(line, RSTART + 2, RLENGTH - 3)
                line = substr(line, RSTART + RLENGTH)
            }
        }
    ' "$1"
}

broken=0
checked=0
for file in "${files[@]}"; do
    dir=$(dirname "$file")
    while IFS=$'\t' read -r line target; do
        case "$target" in
            http://* | https://* | mailto:*) continue ;;
        esac
        checked=$((checked + 1))
        path=${target%%#*}
        fragment=
        [ "$path" != "$target" ] && fragment=${target#*#}
        if [ -z "$path" ]; then
            resolved=$file
        else
            resolved=$dir/$path
        fi
        if [ ! -e "$resolved" ]; then
            echo "$file:$line: $target: no such file ($resolved)"
            broken=$((broken + 1))
            continue
        fi
        if [ -n "$fragment" ]; then
            if [ -d "$resolved" ] || ! anchors "$resolved" | grep -qxF -- "$fragment"; then
                echo "$file:$line: $target: no heading with anchor #$fragment in $resolved"
                broken=$((broken + 1))
            fi
        fi
    done < <(links "$file")
done

if [ "$broken" -gt 0 ]; then
    echo "$broken broken link(s) of $checked checked" >&2
    exit 1
fi
echo "all $checked relative links resolve (${#files[@]} files)"
