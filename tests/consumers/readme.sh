#!/usr/bin/env bash
# package.readme.*: README.md's code blocks, run as written, so the README cannot drift.
#
# A fenced block directly preceded by a tag line is extracted:
#   <!-- readme-test: DIR/FILE -->                   written to DIR/FILE of a fresh work directory
#   <!-- readme-test: DIR/NAME.sh requires TOOL -->  a script: its test is skipped without TOOL
#   <!-- readme-test: not run: REASON -->            documented only
# A test runs one script: every tagged block is written out, then `bash -e NAME.sh` runs in DIR
# with PREFIX set to the test's install prefix (PKG_CONFIG_PATH and LD_LIBRARY_PATH unset: the
# snippet must set what it needs), next to a link ../libinfer to this source tree. Its output must
# contain every line of the block tagged `expected-output.txt`.
# --check-tags fails when a block of the README's "Using libinfer" section has no tag.
#
# Usage: readme.sh README PREFIX WORKROOT (--check-tags | DIR/NAME.sh)
# Exit status: 0 pass, 77 skipped (a required tool is missing), anything else fails.
set -euo pipefail
readme="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" prefix="$2" workroot="$3" what="$4"
source_dir="$(dirname "$readme")"
section='^## Using libinfer'

# Prints "LINE<TAB>TAG" for each fenced block (TAG empty when untagged) and "SECTION<TAB>LINE" for
# the first line of the checked section; writes tagged blocks under $1 when given.
scan() {
    awk -v out="${1:-}" -v section="$section" '
        function flush() { if (path != "") close(path) }
        in_block && /^```[[:space:]]*$/ { in_block = 0; flush(); path = ""; next }
        in_block { if (path != "") print > path; next }
        /^```/ {
            in_block = 1; path = ""
            printf "%d\t%s\n", NR, (prev_tag_line == NR - 1 ? tag : "")
            if (out != "" && prev_tag_line == NR - 1 && tag !~ /^not run:/) {
                file = tag; sub(/ .*/, "", file)
                path = out "/" file
                dir = path; sub(/\/[^\/]*$/, "", dir)
                system("mkdir -p \"" dir "\"")
                printf "" > path
            }
            next
        }
        /^<!-- readme-test: .* -->$/ { tag = $0; sub(/^<!-- readme-test: /, "", tag); sub(/ -->$/, "", tag); prev_tag_line = NR; next }
        $0 ~ section { printf "SECTION\t%d\n", NR }
        /^## / && !($0 ~ section) { printf "END\t%d\n", NR }
    ' "$readme"
}

if [ "$what" = "--check-tags" ]; then
    status=0 start=0 end=0 blocks=0
    declare -A seen=()
    while IFS=$'\t' read -r line tag; do
        case "$line" in
            SECTION) start=$tag; continue ;;
            END) [ "$start" -gt 0 ] && [ "$end" -eq 0 ] && end=$tag; continue ;;
        esac
        in_section=false
        if [ "$start" -gt 0 ] && { [ "$end" -eq 0 ] || [ "$line" -lt "$end" ]; }; then in_section=true; fi
        if [ -z "$tag" ]; then
            if $in_section; then
                echo "error: README.md:$line: a code block of the 'Using libinfer' section has no <!-- readme-test: ... --> line before it" >&2
                status=1
            fi
            continue
        fi
        blocks=$((blocks + 1))
        if [[ "$tag" =~ ^not\ run:\ . ]]; then continue; fi
        if ! [[ "$tag" =~ ^[^\ ]+$ || "$tag" =~ ^[^\ ]+\.sh\ requires\ [^\ ]+$ ]]; then
            echo "error: README.md:$line: malformed tag '$tag'" >&2; status=1
        fi
        file="${tag%% *}"
        if [ -n "${seen[$file]:-}" ]; then
            echo "error: README.md:$line: $file is also written at line ${seen[$file]}" >&2; status=1
        fi
        seen[$file]=$line
    done < <(scan)
    if [ "$start" -eq 0 ]; then echo "error: README.md has no section matching '$section'" >&2; exit 1; fi
    [ "$status" -eq 0 ] && echo "README.md: $blocks tagged code blocks, none untagged in the 'Using libinfer' section"
    exit "$status"
fi

script="$what"
tag_line="$(grep -E "^<!-- readme-test: ${script//./\\.}( requires [^ ]+)? -->$" "$readme" || true)"
if [ -z "$tag_line" ]; then echo "error: README.md has no block tagged $script" >&2; exit 1; fi
if [[ "$tag_line" =~ \ requires\ ([^\ ]+)\ --\>$ ]] && ! command -v "${BASH_REMATCH[1]}" >/dev/null; then
    echo "SKIPPED: $script needs ${BASH_REMATCH[1]}, which is not on PATH"
    exit 77
fi

work="$workroot/${script//\//.}"
rm -rf "$work" && mkdir -p "$work"
scan "$work" >/dev/null
ln -s "$source_dir" "$work/libinfer"
echo "== $script (in $work/$(dirname "$script"), PREFIX=$prefix)"
sed 's/^/   | /' "$work/$script"
# Go stamps binaries with version-control data, which fails in some CI checkouts; a user's own
# project directory has no such problem, so the test turns it off.
(cd "$work/$(dirname "$script")" && env -u PKG_CONFIG_PATH -u LD_LIBRARY_PATH PREFIX="$prefix" GOFLAGS=-buildvcs=false \
    bash -eo pipefail "$(basename "$script")") 2>&1 | tee "$work/output.txt"
if [ -f "$work/expected-output.txt" ]; then
    while IFS= read -r want; do
        if ! grep -qxF -- "$want" "$work/output.txt"; then
            echo "error: the output lacks the line README.md promises: $want" >&2
            exit 1
        fi
    done < "$work/expected-output.txt"
fi
echo "== $script: ran as README.md says"
