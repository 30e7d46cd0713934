#!/usr/bin/env bash
# Make sure the Debian packages a make target needs are installed: `scripts/system-packages.sh test`.
# Installs the missing ones with apt-get when it can (root, or passwordless sudo); otherwise stops
# with one message naming the exact command to run. Prints nothing when everything is there.
set -euo pipefail

case "${1:-}" in
    # chromium: the browser tests (Playwright drives /usr/bin/chromium; it cannot download browsers here)
    # dataset-fashion-mnist: tests that read /usr/share/datasets/fashion-mnist
    # fonts-*: handwriting-style fonts for the rendered-handwriting tests and benchmark
    # postgresql: the tune tests start their own server (initdb, pg_ctl) for a study shared by two processes
    test) packages=(chromium dataset-fashion-mnist fonts-dkg-handwriting fonts-breip fonts-bwht fonts-femkeklaver
                    fonts-comic-neue fonts-dancingscript fonts-humor-sans fonts-kaushanscript fonts-dejavu-core
                    postgresql) ;;
    demo) packages=() ;;
    *) echo "usage: $0 test|demo" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm installs axe-core, the accessibility checker the browser tests inject: any npm will do
if [ "${1:-}" = test ] && ! command -v npm >/dev/null; then
    missing+=(npm)
fi
# node runs digitnet.js (the page without a server) against Python in the tests; Debian's npm brings it
if [ "${1:-}" = test ] && ! command -v node >/dev/null && [[ " ${missing[*]} " != *" npm "* ]]; then
    missing+=(nodejs)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "make: missing system packages: ${missing[*]}" >&2
    echo "make: install them with:  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# ${sudo[@]+...}: an empty array is "unset" to `set -u` in bash before 4.4
# a source that cannot be reached fails the update, not the install from the lists that could be read
${sudo[@]+"${sudo[@]}"} apt-get update -qq || echo "apt-get update failed for some sources: installing from the lists there are" >&2
${sudo[@]+"${sudo[@]}"} apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
