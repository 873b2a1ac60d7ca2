#!/usr/bin/env bash
# run.sh checks that the credentials ezheng issues verify with independent libraries:
# SD-JWT VC (+KB) with @sd-jwt/sd-jwt-vc, VCDM 2.0 vc+jwt with panva's jose, VCDM 1.1 JWT-VC
# with jose and did-jwt-vc, VCDM 1.1 JSON-LD (Ed25519Signature2020, with its status entry) with
# @digitalbazaar/vc; and, the other way round, that ezheng's verifier accepts a vc+jwt
# made by jose and a JWT-VC made by did-jwt-vc.
#
#   bash scripts/interop/run.sh
#
# Needs Go and Node >= 20 (npm). Installs the pinned packages of scripts/interop/package-lock.json
# with `npm ci`, writes fresh fixtures with scripts/interop/gen, verifies them with verify.mjs,
# then runs a self-check: the same verifier on fixtures with one signed bit flipped must reject
# every one of them. Then issue.mjs issues credentials in JavaScript and scripts/interop/check
# verifies them with internal/vcjwt. Prints one line per check and ends with
# "interop: N passed, M failed"; exits non-zero if anything failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
start=$SECONDS

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/good" "$tmp/tampered" "$tmp/js" "$tmp/bin"

# Dependencies, exactly as locked. npm's own output goes to stderr only when it fails.
if ! (cd "$here" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error) >"$tmp/npm.log" 2>&1; then
  cat "$tmp/npm.log" >&2
  echo "interop: npm ci failed" >&2
  exit 1
fi

# One build of the Go programs; gen runs twice (same as `go run ./scripts/interop/gen DIR`).
go build -o "$tmp/bin/" ./scripts/interop/gen ./scripts/interop/check
"$tmp/bin/gen" "$tmp/good"
"$tmp/bin/gen" --tamper "$tmp/tampered"

# The real checks: print their lines, keep their counts for the final line.
set +e
node "$here/verify.mjs" "$tmp/good" >"$tmp/good.out" 2>&1
good_rc=$?
node "$here/verify.mjs" "$tmp/tampered" >"$tmp/tampered.out" 2>&1
tampered_rc=$?
set -e

grep -v '^interop: ' "$tmp/good.out" || true
summary="$(grep -E '^interop: [0-9]+ passed, [0-9]+ failed$' "$tmp/good.out" || true)"
if [[ -z "$summary" ]]; then
  cat "$tmp/good.out" >&2
  echo "interop: 0 passed, 1 failed (verify.mjs did not finish)"
  exit 1
fi
passed="$(sed -E 's/^interop: ([0-9]+) passed.*/\1/' <<<"$summary")"
failed="$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")"
if [[ $good_rc -ne 0 && $failed -eq 0 ]]; then
  failed=1 # exited non-zero without saying why
fi

# Self-check: every check must fail on the tampered fixtures, and the verifier must exit 1.
checks="$(grep -cE '^(ok  |FAIL) ' "$tmp/tampered.out" || true)"
rejected="$(grep -cE '^FAIL ' "$tmp/tampered.out" || true)"
if [[ $tampered_rc -eq 1 && $checks -gt 0 && $rejected -eq $checks ]]; then
  echo "ok   tamper self-check: verify.mjs rejected all $rejected fixtures with one flipped bit (exit $tampered_rc)"
  passed=$((passed + 1))
else
  echo "FAIL tamper self-check: $rejected of $checks tampered fixtures rejected, exit $tampered_rc; verifier output:"
  sed 's/^/     /' "$tmp/tampered.out"
  failed=$((failed + 1))
fi

# The other direction: JavaScript issues, ezheng verifies.
set +e
node "$here/issue.mjs" "$tmp/js" >"$tmp/js.out" 2>&1 && "$tmp/bin/check" "$tmp/js" >>"$tmp/js.out" 2>&1
js_rc=$?
set -e
cat "$tmp/js.out"
js_ok="$(grep -cE '^ok   ' "$tmp/js.out" || true)"
js_fail="$(grep -cE '^FAIL ' "$tmp/js.out" || true)"
passed=$((passed + js_ok))
failed=$((failed + js_fail))
if [[ $js_rc -ne 0 && $js_fail -eq 0 ]]; then
  echo "FAIL reverse interop: issue.mjs or check exited $js_rc"
  failed=$((failed + 1))
fi

echo "interop: took $((SECONDS - start)) s" >&2
echo "interop: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
