#!/bin/sh
# dromos on a pull (merge) request: validate the manifests, plan the branch against the
# GitSource that manages them, and post the plan as one comment that later runs update.
#
# Used by integrations/github/action.yml and integrations/gitlab/dromos-plan.yml; runs anywhere
# with sh, curl and python3. Settings (environment):
#   DROMOS          the dromos binary (default: dromos on PATH)
#   DROMOS_PATH     checkout directory (default: .)
#   DROMOS_SOURCE   NAMESPACE/NAME of the GitSource to plan against (needs cluster access);
#                   empty: validate only, or plan DROMOS_PATH offline against DROMOS_SNAPSHOT
#   DROMOS_SNAPSHOT a file of live objects for an offline plan (`kubectl get ... -o yaml`)
#   DROMOS_PLAN_ARGS extra arguments of `dromos plan` (e.g. --context prod)
#   DROMOS_COMMENT  "false" to only print (default: comment when a forge is detected)
# GitHub: GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, and the pull request number from
#   DROMOS_PR or GITHUB_EVENT_PATH. GitLab: DROMOS_GITLAB_TOKEN (api scope), CI_API_V4_URL,
#   CI_PROJECT_ID, CI_MERGE_REQUEST_IID.
# Exit: 0 valid and plannable (changes or not), 1 invalid or refused, 3 setup error.
set -u
DROMOS=${DROMOS:-dromos}
DIR=${DROMOS_PATH:-.}
MARKER='<!-- dromos-plan -->'
work=$(mktemp -d) || exit 3
trap 'rm -rf "$work"' EXIT

say() { printf 'dromos-pr: %s\n' "$*" >&2; }

# --- validate -------------------------------------------------------------------------------
format=text
[ -n "${GITHUB_ACTIONS:-}" ] && format=github
"$DROMOS" validate "$DIR" -o "$format" > "$work/validate.out" 2>&1
valid=$?
cat "$work/validate.out"
"$DROMOS" validate "$DIR" -o text > "$work/validate.txt" 2>&1

# --- plan -----------------------------------------------------------------------------------
status=0
if [ "$valid" -ne 0 ]; then
  status=1
  {
    printf '### dromos: the manifests are invalid\n\nNothing of this branch would be applied.\n\n```\n'
    cat "$work/validate.txt"
    printf '```\n'
  } > "$work/comment.md"
elif [ -n "${DROMOS_SOURCE:-}" ] || [ -n "${DROMOS_SNAPSHOT:-}" ]; then
  if [ -n "${DROMOS_SOURCE:-}" ]; then
    # shellcheck disable=SC2086
    "$DROMOS" plan "$DIR" --source "$DROMOS_SOURCE" -o markdown ${DROMOS_PLAN_ARGS:-} > "$work/comment.md" 2> "$work/plan.err"
  else
    # shellcheck disable=SC2086
    "$DROMOS" plan "$DIR" --snapshot "$DROMOS_SNAPSHOT" -o markdown ${DROMOS_PLAN_ARGS:-} > "$work/comment.md" 2> "$work/plan.err"
  fi
  rc=$?
  case $rc in
    0|2) ;;
    1) status=1 ;;
    *) status=3 ;;
  esac
  if [ ! -s "$work/comment.md" ]; then
    { printf '### dromos plan failed\n\n```\n'; cat "$work/plan.err"; printf '```\n'; } > "$work/comment.md"
    status=3
  fi
  cat "$work/plan.err" >&2
else
  printf '### dromos: the manifests are valid\n\n```\n%s\n```\n' "$(cat "$work/validate.txt")" > "$work/comment.md"
fi
cat "$work/comment.md"

# --- comment --------------------------------------------------------------------------------
post() { # api-base list-url create-url update-url-prefix method auth-header
  python3 - "$@" "$work/comment.md" "$MARKER" <<'PY'
import json, sys, urllib.request
list_url, create_url, update_prefix, update_method, auth, body_file, marker = sys.argv[1:8]
body = marker + "\n" + open(body_file, encoding="utf-8").read()
def call(method, url, data=None):
    req = urllib.request.Request(url, method=method, data=None if data is None else json.dumps(data).encode())
    name, _, value = auth.partition(": ")
    req.add_header(name, value)
    req.add_header("Accept", "application/json")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode() or "null"
        return json.loads(text)
existing = None
page = 1
while existing is None:
    sep = "&" if "?" in list_url else "?"
    items = call("GET", f"{list_url}{sep}per_page=100&page={page}")
    if not items:
        break
    existing = next((c for c in items if marker in (c.get("body") or "")), None)
    page += 1
if existing:
    call(update_method, f"{update_prefix}/{existing['id']}", {"body": body})
    print(f"dromos-pr: updated comment {existing['id']}", file=sys.stderr)
else:
    created = call("POST", create_url, {"body": body})
    print(f"dromos-pr: created comment {created.get('id')}", file=sys.stderr)
PY
}

if [ "${DROMOS_COMMENT:-true}" != false ]; then
  if [ -n "${GITHUB_REPOSITORY:-}" ] && [ -n "${GITHUB_TOKEN:-}" ]; then
    pr=${DROMOS_PR:-}
    if [ -z "$pr" ] && [ -n "${GITHUB_EVENT_PATH:-}" ]; then
      pr=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print((e.get("pull_request") or {}).get("number") or "")' "$GITHUB_EVENT_PATH")
    fi
    if [ -z "$pr" ]; then
      say "no pull request number (DROMOS_PR or a pull_request event); not commenting"
    else
      api=${GITHUB_API_URL:-https://api.github.com}
      base="$api/repos/$GITHUB_REPOSITORY/issues"
      post "$base/$pr/comments" "$base/$pr/comments" "$base/comments" PATCH "Authorization: Bearer $GITHUB_TOKEN" || status=3
    fi
  elif [ -n "${CI_MERGE_REQUEST_IID:-}" ] && [ -n "${DROMOS_GITLAB_TOKEN:-}" ]; then
    base="${CI_API_V4_URL:?}/projects/${CI_PROJECT_ID:?}/merge_requests/$CI_MERGE_REQUEST_IID/notes"
    post "$base" "$base" "$base" PUT "PRIVATE-TOKEN: $DROMOS_GITLAB_TOKEN" || status=3
  fi
fi
exit "$status"
