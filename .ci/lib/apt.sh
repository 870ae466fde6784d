# Sourced by .ci/install.d/*.sh: installs Debian packages without starting
# the services they bring (the tests start their own servers).
apt_install_without_services() {
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d exit code 101 tells invoke-rc.d not to start services, so a
  # package's post-install script leaves its system service stopped.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    created=1
  fi
  apt-get update
  local rc=0
  apt-get install -y --no-install-recommends "$@" || rc=$?
  if [ "$created" = 1 ]; then rm -f "$policy"; fi
  return "$rc"
}
