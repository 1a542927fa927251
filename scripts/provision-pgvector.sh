#!/usr/bin/env bash
# Install the pgvector extension into the local PostgreSQL (default major version 15), built from
# Debian's own source package of the next release (trixie ships pgvector 0.8.x; bookworm has none).
#
# Idempotent: does nothing when the extension is already installed. Run as root.
#
# The package archive is the one this machine already uses: its URI is read from the existing apt
# sources at run time (override with PGVECTOR_ARCHIVE_URI), so no archive host is written here.
# A temporary deb-src entry for trixie is added for the download and removed afterwards.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
EXT_CONTROL="/usr/share/postgresql/${PG_MAJOR}/extension/vector.control"
SOURCE_SUITE="${PGVECTOR_SOURCE_SUITE:-trixie}"
TMP_SOURCES="/etc/apt/sources.list.d/engram-pgvector-src.sources"

say() { printf '[provision-pgvector] %s\n' "$*"; }

if [ -f "$EXT_CONTROL" ]; then
  say "pgvector is already installed for PostgreSQL ${PG_MAJOR} ($EXT_CONTROL); nothing to do"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  say "must run as root (installs packages and writes into PostgreSQL's extension directory)" >&2
  exit 1
fi

# The machine's own release codename (e.g. bookworm): the archive that serves it also serves trixie.
codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"

# Print the first archive URI whose entry carries exactly the release suite (not -security/-updates).
find_archive_uri() {
  local f
  # deb822 files: stanzas of "Field: value" lines separated by blank lines.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$codename" '
      function flush() {
        if (types ~ /(^|[[:space:]])deb([[:space:]]|$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && enabled != "no") {
          split(uris, u, /[[:space:]]+/); print u[1]; found = 1; exit
        }
        types = ""; suites = ""; uris = ""; enabled = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      tolower($1) == "types:"   { sub(/^[^:]*:[[:space:]]*/, ""); types = $0 }
      tolower($1) == "suites:"  { sub(/^[^:]*:[[:space:]]*/, ""); suites = $0 }
      tolower($1) == "uris:"    { sub(/^[^:]*:[[:space:]]*/, ""); uris = $0 }
      tolower($1) == "enabled:" { sub(/^[^:]*:[[:space:]]*/, ""); enabled = tolower($0) }
      END { if (!found) flush() }
    ' "$f" | head -n 1
  done
  # One-line format: "deb [options] URI suite components…".
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$codename" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }
    ' "$f"
  done
}

archive_uri="${PGVECTOR_ARCHIVE_URI:-}"
if [ -z "$archive_uri" ]; then
  if [ -z "$codename" ]; then
    say "cannot tell this machine's release codename from /etc/os-release; set PGVECTOR_ARCHIVE_URI" >&2
    exit 1
  fi
  archive_uri="$(find_archive_uri | head -n 1)"
fi
if [ -z "$archive_uri" ]; then
  say "no apt source for suite '${codename}' found; set PGVECTOR_ARCHIVE_URI to a Debian archive URI" >&2
  exit 1
fi

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
workdir="$(mktemp -d /tmp/engram-pgvector.XXXXXX)"
# apt downloads as the unprivileged _apt user, which must be able to enter the directory.
chmod 755 "$workdir"
cleanup() {
  rm -f "$TMP_SOURCES"
  rm -rf "$workdir"
}
trap cleanup EXIT

say "adding a temporary deb-src entry for ${SOURCE_SUITE} (archive taken from this machine's apt sources)"
{
  printf 'Types: deb-src\n'
  printf 'URIs: %s\n' "$archive_uri"
  printf 'Suites: %s\n' "$SOURCE_SUITE"
  printf 'Components: main\n'
  [ -f "$keyring" ] && printf 'Signed-By: %s\n' "$keyring"
} > "$TMP_SOURCES"

export DEBIAN_FRONTEND=noninteractive
say "apt-get update"
apt-get update -qq

say "installing postgresql-server-dev-${PG_MAJOR} and build tools"
apt-get install -y -qq --no-install-recommends \
  "postgresql-server-dev-${PG_MAJOR}" build-essential dpkg-dev >/dev/null

version="$(apt-cache showsrc pgvector | awk '/^Version:/ { print $2; exit }')"
case "$version" in
  0.8.*) say "source package pgvector ${version}" ;;
  *) say "expected pgvector 0.8.x in ${SOURCE_SUITE}, found '${version:-nothing}'" >&2; exit 1 ;;
esac

say "downloading the source package"
cd "$workdir"
apt-get source -qq pgvector >/dev/null
srcdir="$(find "$workdir" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)"
if [ -z "$srcdir" ]; then
  say "apt-get source did not unpack a pgvector-* directory" >&2
  exit 1
fi

say "building in ${srcdir}"
make -C "$srcdir" -s -j"$(nproc)" PG_CONFIG="$PG_CONFIG"
say "installing"
make -C "$srcdir" -s install PG_CONFIG="$PG_CONFIG"

if [ ! -f "$EXT_CONTROL" ]; then
  say "build finished but $EXT_CONTROL is missing" >&2
  exit 1
fi
say "pgvector $(awk -F"'" '/default_version/ { print $2 }' "$EXT_CONTROL") installed for PostgreSQL ${PG_MAJOR}"
