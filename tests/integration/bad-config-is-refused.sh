#!/usr/bin/env bash
# bad-config-is-refused: `dumpgated --check-config` names the file and line
# of every kind of mistake in the gate config and the profiles (unknown key,
# bad value, missing key, repeated key, a setting of a feature not built
# yet, a file others can write, a file not owned by root) and exits
# non-zero; the corrected config says "configuration OK".  A gate started
# with a bad config exits non-zero with the same message and never creates
# its socket.
. "$DG_SRC/tests/lib/lib.sh"

gate_init
P=$T/profiles
cp -p "$CONF" "$T/conf.good"
cp -p "$P/crashdump.conf" "$T/crashdump.good"
cp -p "$P/logs.conf" "$T/logs.good"
reset_config() {
  cp -p "$T/conf.good" "$CONF"
  cp -p "$T/crashdump.good" "$P/crashdump.conf"
  cp -p "$T/logs.good" "$P/logs.conf"
  rm -f "$P/extra.conf"
  chmod 755 "$P"
}
check() { # runs --check-config; stdout+stderr in $out, status in $rc
  out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --check-config 2>&1)
  rc=$?
}
refused() { # EXPECTED-MESSAGE DESCRIPTION
  local want="dumpgated: error: $1" what=$2
  check
  [ "$rc" -ne 0 ]
  ok $? "$what: --check-config exits non-zero (got $rc)"
  is "$out" "$want" "$what: the exact file:line message"
  reset_config
}
# lineof FILE REGEX: the line number of the first match
lineof() { grep -nE -- "$2" "$1" | head -n 1 | cut -d: -f1; }

# ---- accepts: the config as gate_init wrote it
check
is "$rc" 0 "the good config passes --check-config"
is "$out" "$CONF: configuration OK, 2 profiles: crashdump logs" "it says configuration OK and names the profiles"

# ---- refuses: mistakes in a profile
sed -i 's/^approvals = 2$/aprovals = 2/' "$P/crashdump.conf"
refused "$P/crashdump.conf:4: unknown key \"aprovals\" in [profile]" "a misspelt key"

sed -i 's/^max_size = 64M$/max_size = 64Q/' "$P/crashdump.conf"
refused "$P/crashdump.conf:5: bad value \"64Q\" for max_size: expected a size like 4G" "a bad size"

sed -i 's/^expiry = 1h$/expiry = soon/' "$P/logs.conf"
l=$(lineof "$P/logs.conf" '^expiry')
refused "$P/logs.conf:$l: bad value \"soon\" for expiry: expected a duration like 24h" "a bad duration"

sed -i 's/^approvals = 1$/approvals = 0/' "$P/logs.conf"
refused "$P/logs.conf:4: bad value \"0\" for approvals: must be from 1 to 16" "approvals out of range"

sed -i 's/^approvals = 1$/approvals = 3/' "$P/logs.conf"
refused "$P/logs.conf:4: approvals = 3 but only 2 approver accounts listed" "more approvals than approvers"

sed -i 's/^types = text gzip$/types = text pdf/' "$P/logs.conf"
refused "$P/logs.conf:6: unknown type \"pdf\" in types (known: binary, text, elf-core, minidump, zstd, xz, gzip, lz4)" \
  "an unknown artifact type"

sed -i '/^expiry = /d' "$P/crashdump.conf"
refused "$P/crashdump.conf: missing key \"expiry\"" "a missing key"

echo "max_size = 2M" >> "$P/logs.conf"
refused "$P/logs.conf:9: key \"max_size\" repeated (first at line 5)" "a repeated key"

echo "rules = x" >> "$P/crashdump.conf"
refused "$P/crashdump.conf:9: \"rules\" is not supported by this build yet" "a key of a feature not built yet"

sed -i 's/^\[profile\]$/[profiles]/' "$P/logs.conf"
refused "$P/logs.conf:1: unknown section [profiles]" "an unknown section"

chmod 664 "$P/crashdump.conf"
refused "$P/crashdump.conf: writable by group or others (mode 0664)" "a group-writable profile"

chmod 646 "$P/logs.conf"
refused "$P/logs.conf: writable by group or others (mode 0646)" "a world-writable profile"

chmod 775 "$P"
refused "$P: writable by group or others (mode 0775)" "a group-writable profiles directory"

cp -p "$T/logs.good" "$P/extra.conf"
chown dg-mallory "$P/extra.conf"
refused "$P/extra.conf: owned by uid $(id -u dg-mallory), expected root" "a profile owned by another account"

ln -s "$P/logs.conf" "$P/extra.conf"
refused "$P/extra.conf: is a symbolic link (refused)" "a profile that is a symbolic link"

# ---- refuses: mistakes in the gate config
sed -i 's/^admins_group = /admin_group = /' "$CONF"
l=$(lineof "$CONF" '^admin_group')
refused "$CONF:$l: unknown key \"admin_group\" in [gate]" "a misspelt gate key"

sed -i 's/^upload_idle_timeout = .*/upload_idle_timeout = 5x/' "$CONF"
l=$(lineof "$CONF" '^upload_idle_timeout')
refused "$CONF:$l: bad value \"5x\" for upload_idle_timeout: expected a duration like 5m" "a bad duration in [limits]"

sed -i '/^\[limits\]/a quota_total = lots' "$CONF"
l=$(lineof "$CONF" '^quota_total')
refused "$CONF:$l: bad value \"lots\" for quota_total: expected a size like 512G" "a bad size in [limits]"

sed -i '/^session_user = /d' "$CONF"
refused "$CONF: missing key \"session_user\"" "a missing gate key"

sed -i '/^\[gate\]/a hook = /usr/bin/notify' "$CONF"
l=$(lineof "$CONF" '^hook')
refused "$CONF:$l: \"hook\" is not supported by this build yet" "a gate key of a feature not built yet"

chmod 664 "$CONF"
refused "$CONF: writable by group or others (mode 0664)" "a group-writable gate config"

echo "bob = dg-alice" >> "$CONF"
l=$(lineof "$CONF" '^bob = ')
refused "$CONF:$l: account \"dg-alice\" belongs to person \"alice\" (line $(lineof "$CONF" '^alice = ')) and to person \"bob\"" \
  "an account in two persons"

# ---- the corrected config passes again
check
is "$rc" 0 "after every fix the config passes again"
like "$out" "configuration OK" "it says configuration OK"

# ---- a gate started with a bad config
sed -i 's/^approvals = 2$/aprovals = 2/' "$P/crashdump.conf"
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" --foreground 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
ok $? "dumpgated --foreground with a bad profile exits non-zero at once (got $rc)"
is "$out" "dumpgated: error: $P/crashdump.conf:4: unknown key \"aprovals\" in [profile]" \
  "it prints the same file:line message"
[ ! -e "$SOCK" ]
ok $? "it did not create the socket"
[ ! -e "$T/state" ]
ok $? "it did not create the state directory"
out=$(timeout 20 "$T/bin/dumpgated" --config "$CONF" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
ok $? "dumpgated (detaching) with a bad profile exits non-zero (got $rc)"
like "$out" "crashdump.conf:4: unknown key \"aprovals\"" "it prints the same message"
[ ! -e "$SOCK" ]
ok $? "it did not create the socket"
reset_config

# ---- accepts: the good config starts a gate
gate_start
ok $? "with the good config the gate starts"
[ -S "$SOCK" ]
ok $? "and listens on its socket"

done_testing
