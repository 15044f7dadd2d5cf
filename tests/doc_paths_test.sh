#!/usr/bin/env bash
# doc_paths_test.sh: every repository path that README.md and docs/DESIGN.md name
# exists (part of `make test`), so a reader never follows a path to nothing.
#
# A path is a word starting with one of the repository's folders (experiments/,
# tools/, tests/, docs/, plots/, harness/, quant/, kernels/, fuzz/, results/baselines/).
# Left out: outputs that runs create (plots/out..., anything under build/) and
# placeholders written in capitals (NAME, FILE, DIR).
set -u
cd "$(dirname "$0")/.." || exit 2
missing=0 checked=0
while IFS=: read -r doc path; do
    case "$path" in
        plots/out*) continue ;;
        *[A-Z][A-Z][A-Z]*) continue ;;
    esac
    checked=$((checked + 1))
    if [ ! -e "$path" ]; then
        echo "doc_paths_test: $doc names $path, which does not exist"
        missing=$((missing + 1))
    fi
done < <(grep -oE '(^|[^A-Za-z0-9_./-])(experiments|tools|tests|docs|plots|harness|quant|kernels|fuzz|results/baselines)/[A-Za-z0-9_./-]*[A-Za-z0-9_]' \
             README.md docs/DESIGN.md | grep -v 'build/' | sed -E 's/:[^A-Za-z0-9_]?/:/' | sort -u)
if [ "$missing" = 0 ]; then
    echo "doc_paths_test: ok, $checked paths named in README.md and docs/DESIGN.md exist"
fi
[ "$missing" = 0 ]
