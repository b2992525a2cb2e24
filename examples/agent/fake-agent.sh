#!/usr/bin/env bash
# examples/agent/fake-agent.sh — a stand-in for a command-line agent (no
# network, no model): it "answers" the prompt given as its last argument
# with a fixed, checkable reply, so the agent role can be tried and tested
# anywhere. Replace it with a real program through the role's
# AGENT_PROGRAM (examples/agent/roles.json).
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: fake-agent.sh [ARGS...] PROMPT" >&2; exit 2; }
prompt=${!#}
read -r -a words <<<"$prompt"
longest=""
for w in "${words[@]}"; do
  if [ "${#w}" -gt "${#longest}" ]; then longest=$w; fi
done
printf 'You asked: %s\n' "$prompt"
printf 'Answer: %d words; the longest is "%s".\n' "${#words[@]}" "$longest"
