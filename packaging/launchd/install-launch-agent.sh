#!/bin/sh
# Install and start skyutild as a LaunchAgent for the current user (macOS).
# usage: install-launch-agent.sh [TEMPLATE]   (default: the template next to this script)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template=${1:-$here/org.skypilot.skyutild.plist.in}
label=org.skypilot.skyutild
uid=$(id -u)
# SKYUTILD_SOCKDIR: for tests; clients look in /tmp/skyutild-<uid> by default.
sockdir=${SKYUTILD_SOCKDIR:-/tmp/skyutild-$uid}
agents=$HOME/Library/LaunchAgents
plist=$agents/$label.plist

# launchd binds the socket but does not create its directory; the daemon's own path check
# wants it private to the user.
mkdir -p "$sockdir"
chmod 0700 "$sockdir"
mkdir -p "$agents"
sed -e "s|__SOCKET_PATH__|$sockdir/skyutild.sock|g" -e "s|__UID__|$uid|g" \
	"$template" >"$plist.tmp"
plutil -lint "$plist.tmp" >/dev/null
mv "$plist.tmp" "$plist"

launchctl bootout "gui/$uid/$label" 2>/dev/null || true
launchctl bootstrap "gui/$uid" "$plist"
echo "skyutild: loaded $plist (socket $sockdir/skyutild.sock)"
