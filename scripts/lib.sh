# Shared by the test scripts: install Debian packages when running as root,
# otherwise say what to install.
apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: $* missing; install it (sudo apt-get install $*) or run this script as root" >&2
        exit 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
